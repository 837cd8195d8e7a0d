"""The `vidrecall` command: a thin shell over VideoQA, VideoMemory and the evaluation harness.

One module per command family; each has `register(subparsers)`. Add a command by adding a module to
`COMMANDS`.
"""
from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys

from vidrecall.cli import ask, backbones, evaluate, index, library, mcp, memory, report, serve
from vidrecall.cli import calibrate
from vidrecall.cli import export, import_bundle, replay
from vidrecall.cli.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, exit_on_broken_pipe, install_safe_logging, safe
from vidrecall.core.quiet import quiet_process, set_verbose, verbose
from vidrecall.core.errors import first_line

COMMANDS = [index, library, memory, ask, backbones, evaluate, report, calibrate, serve, mcp, replay, export,
            import_bundle]


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
    install_safe_logging()
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader gone away shows here, not as "Exception ignored" at exit
        return code
    except BrokenPipeError:  # `vidrecall ask --json | head`: the reader has what it wanted; no message
        return exit_on_broken_pipe()
    except KeyboardInterrupt:
        print("vidrecall: interrupted — everything finished so far is saved; run the same command to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except sqlite3.DatabaseError as exc:  # damage found after the open-time check; the files are named there
        if os.environ.get("VIDRECALL_DEBUG"):
            raise
        print(f"vidrecall: error: a store database failed ({safe(str(exc).strip() or type(exc).__name__)}); if it "
              "is damaged, move the store's memory.db / llm_cache.db / sessions.db away and run again", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, RuntimeError, FileNotFoundError, OSError) as exc:
        if os.environ.get("VIDRECALL_DEBUG"):
            raise
        print(f"vidrecall: error: {safe(error_line(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT


def error_line(exc: BaseException) -> str:
    """The one line an error prints as. A file name that is not valid UTF-8 reaching the store (SQLite text)
    fails as UnicodeEncodeError about 'surrogates' without naming the file: name it, its bytes escaped."""
    if isinstance(exc, UnicodeEncodeError) and isinstance(exc.object, str) and "surrogates" in exc.reason:
        shown = exc.object.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        shown = re.sub(r"(\|\d+){4}$", "", shown)  # the store's file identity: path|device|inode|size|mtime
        return (f"{shown}: the file name is not valid UTF-8, which the store cannot record; "
                "rename the file (e.g. convmv -f latin1 -t utf-8)")
    return first_line(exc)


if __name__ == "__main__":
    sys.exit(main())
