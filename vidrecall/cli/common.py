"""Pieces every command shares: the console, backbone flags, building a VideoQA, checking a video path,
printing an answer and following a stream of steps."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from vidrecall.core.config import ConfigError, available_profiles

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def console():
    from rich.console import Console

    return Console(highlight=False)


def add_backbone_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=os.environ.get("VIDRECALL_PROFILE", "offline"),
                   help=f"profile name {available_profiles()} or a YAML path (default: offline)")
    p.add_argument("--store", default=None, help="memory store directory (default: $VIDRECALL_STORE or the user cache dir)")
    p.add_argument("--llm", default=None, help="LLM spec, e.g. smollm2, openai:gpt-4o-mini, ollama:qwen2.5:7b")
    p.add_argument("--vlm", default=None, help="captioner spec, e.g. ocr, transformers:Qwen/Qwen2.5-VL-7B-Instruct+ocr")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible base URL for both --llm and --vlm")


def make_qa(args: argparse.Namespace, **overrides: Any):
    from vidrecall.api import VideoQA

    if getattr(args, "base_url", None):
        overrides.setdefault("llm_options", {"base_url": args.base_url})
        overrides.setdefault("captioner_options", {"base_url": args.base_url})
    return VideoQA(args.profile, llm=args.llm, vlm=args.vlm, store_dir=args.store, **overrides)


def video_path(value: str) -> str:
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(f"{value}: no such file")
    return str(path)


def print_answer(out, answer) -> None:
    out.print()
    out.print(f"[bold green]Answer:[/] {answer.summary()}")
    if answer.decided_by:
        out.print(f"[dim]decided by {answer.decided_by}{' (forced: a budget ran out)' if answer.forced else ''}[/]")
    if answer.reason:
        out.print(f"[dim]reason: {answer.reason[:300]}[/]")
    for ev in answer.evidence[:6]:
        out.print(f"  [cyan]{ev.label()}[/] {ev.level}: {ev.text[:140]}")
    c = answer.cost
    out.print(f"[dim]cost: {c.frames_decoded} frames decoded, captions {dict(c.captions_by_level) or 0} "
              f"(+{c.captions_reused} reused), {c.llm_calls} LLM calls, {c.tokens_in}+{c.tokens_out} tokens, "
              f"{c.cache_hits} cache hits, {c.seconds:.1f} s[/]")


def stream_answer(qa, video: str, question: str, options: list[str], out, as_json: bool,
                  session_id: str | None = None):
    answer = None
    for item in qa.stream(video, question, options or None, session_id=session_id):
        if hasattr(item, "node"):
            if not as_json:
                out.print(f"[magenta]{item.node:>9}[/] {item.message}")
        else:
            answer = item
    return answer


def add_command(sub, name: str, fn, help: str, backbones: bool = True) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help)
    if backbones:
        add_backbone_flags(p)
    p.set_defaults(func=fn)
    return p
