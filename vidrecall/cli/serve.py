"""`vidrecall serve`: the local web app (library, player, chat with live steps, memory timeline) and its HTTP API."""
from __future__ import annotations

import argparse
import os

from vidrecall.cli.common import add_command, console, make_qa
from vidrecall.cli.index import parse_levels

UPLOAD_LIMIT_MB = 2048


def run(args: argparse.Namespace) -> int:
    from vidrecall.core.config import load_config
    from vidrecall.web.settings import ServeSettings

    # Every setting is checked (folders, port, token) before anything binds or any model loads.
    store = load_config(args.profile, store_dir=args.store).store_path
    settings = ServeSettings(store=store, profile=args.profile, host=args.host, port=args.port,
                             allow=tuple(args.allow or ()), token=args.token or os.environ.get("VIDRECALL_TOKEN"),
                             upload_limit=int(args.upload_limit_mb * (1 << 20)), index_levels=parse_levels(args.levels),
                             qa_factory=lambda: make_qa(args)).checked()
    import uvicorn

    from vidrecall.web.app import create_app
    from vidrecall.web.security import redact_access_log

    app = create_app(settings)
    out = console()
    out.print(f"vidrecall serve: store {settings.store} · profile {settings.profile}"
              + (f" · videos may be added from {', '.join(map(str, settings.allow))}" if settings.allow else ""))
    if settings.token and settings.token != (args.token or os.environ.get("VIDRECALL_TOKEN")):
        out.print("a token was generated because the host is not 127.0.0.1; it is in the URL below (shown once)")
    out.print(f"open {settings.url}   (API: {settings.url.split('?')[0]}docs)", soft_wrap=True)
    redact_access_log()  # --verbose logs each request's URL: ?token=*** there, never the token (the app's
    # lifespan installs the filter again once uvicorn has configured its loggers)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info" if args.verbose else "warning",
                access_log=args.verbose)
    return 0


def register(sub) -> None:
    p = add_command(sub, "serve", run, "the local web app and HTTP API: library, player, chat with live steps, memory")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs a token)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--allow", action="append", metavar="DIR",
                   help="a folder whose videos may be added by path (repeatable); uploads are always allowed")
    p.add_argument("--token", default=None,
                   help="require this token on every request (default: $VIDRECALL_TOKEN; generated off 127.0.0.1)")
    p.add_argument("--upload-limit-mb", type=float, default=UPLOAD_LIMIT_MB, help="largest upload (default 2048 MB)")
    p.add_argument("--levels", default="coarse", help="levels the page's Index button builds (default: coarse)")
