"""The `vidrecall` command: a thin shell over VideoQA, VideoMemory and the evaluation harness.

One module per command family; each has `register(subparsers)`. Add a command by adding a module to
`COMMANDS`.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from vidrecall.cli import ask, backbones, evaluate, index, library, memory, report, serve
from vidrecall.cli.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from vidrecall.core.quiet import quiet_process, set_verbose, verbose
from vidrecall.core.errors import first_line

COMMANDS = [index, library, memory, ask, backbones, evaluate, report, serve]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidrecall", description="Question answering over long videos by deep memory backtracking.")
    parser.add_argument("--version", action="version", version=f"vidrecall {__import__('vidrecall').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    set_verbose(bool(getattr(args, "verbose", False)) or verbose())
    quiet_process()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("vidrecall: interrupted — everything finished so far is saved; run the same command to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except sqlite3.DatabaseError as exc:  # damage found after the open-time check; the files are named there
        if os.environ.get("VIDRECALL_DEBUG"):
            raise
        print(f"vidrecall: error: a store database failed ({str(exc).strip() or type(exc).__name__}); if it is "
              "damaged, move the store's memory.db / llm_cache.db / sessions.db away and run again", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, RuntimeError, FileNotFoundError, OSError) as exc:
        if os.environ.get("VIDRECALL_DEBUG"):
            raise
        message = first_line(exc)
        print(f"vidrecall: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
