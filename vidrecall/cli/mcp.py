"""`vidrecall mcp`: the memory tools as an MCP server (stdio by default; `--http` for streamable HTTP on
loopback, token required). See vidrecall/mcp_server.py."""
from __future__ import annotations

import argparse
import importlib
import os
import secrets

from vidrecall.cli.common import add_command, make_config

DEFAULT_PORT = 8766
FACTORY_ENV = "VIDRECALL_QA_FACTORY"  # "module:function" building the VideoQA from the Config (tests, embedding)


def make_tools(args: argparse.Namespace):
    """The VideoTools over the command's store and backbones (models load on the first tool that needs them),
    and the VideoQA behind them."""
    from vidrecall.agent.video_tools import VideoTools
    from vidrecall.api import VideoQA
    from vidrecall.core.progress import silent

    config = make_config(args)
    factory = os.environ.get(FACTORY_ENV, "").strip()
    if factory:
        module, _, function = factory.partition(":")
        qa = getattr(importlib.import_module(module), function)(config)
    else:
        qa = VideoQA(config=config, progress=silent)  # stderr is the host's log: no progress bars there
    return VideoTools(lambda: qa.memory, lambda: qa.indexer, ask=qa.stream), qa


def run(args: argparse.Namespace) -> int:
    from vidrecall.mcp_server import build_server, http_url, say, serve_http, serve_stdio

    token = None
    if args.http:  # every setting checked before anything binds or loads
        from vidrecall.web.settings import ServeSettings

        given = args.token or os.environ.get("VIDRECALL_TOKEN")
        settings = ServeSettings(store=make_config(args).store_path, profile=args.profile, host=args.host,
                                 port=args.port, token=given or secrets.token_urlsafe(24)).checked()
        token = settings.token
        assert token is not None
    tools, qa = make_tools(args)
    server = build_server(tools)
    try:
        if token is None:
            serve_stdio(server)
        else:
            say(f"vidrecall mcp: streamable HTTP on {http_url(args.host, args.port)} · store {qa.config.store_path}")
            if not (args.token or os.environ.get("VIDRECALL_TOKEN")):
                say(f"every request must send the header  Authorization: Bearer {token}  (generated; shown once)")
            serve_http(server, args.host, args.port, token, verbose=args.verbose)
    finally:
        tools.close()
        qa.close()
    return 0


def register(sub) -> None:
    p = add_command(sub, "mcp", run, "serve the memory tools over the Model Context Protocol (stdio; --http for "
                                     "streamable HTTP on 127.0.0.1)")
    p.epilog = ("tools: list_videos, index_video, search_memory, read_span, look, frames, ask. Desktop hosts start "
                "it as `vidrecall mcp --profile offline --store DIR` (stdio).")
    p.add_argument("--http", action="store_true", help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="with --http: address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"with --http: port (default {DEFAULT_PORT})")
    p.add_argument("--token", default=None, help="with --http: the token every request must carry (default: "
                                                 "$VIDRECALL_TOKEN, else one generated and printed once)")
