"""`vidrecall report`: the Markdown report (and its accuracy-vs-captions PNG) from results files that
`vidrecall eval` wrote, e.g. to compare runs made on different days or machines."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidrecall.cli.common import add_command
from vidrecall.core.config import ConfigError


def run(args: argparse.Namespace) -> int:
    from vidrecall.evaluation.report import write_report

    missing = [p for p in args.results if not Path(p).is_file()]
    if missing:
        raise ConfigError(f"{missing[0]}: no such results file (vidrecall eval writes runs/eval/<method>.jsonl)")
    if Path(args.out).suffix.lower() != ".md":
        raise ConfigError(f"--out {args.out}: the report is Markdown; give a path ending in .md")
    # A file with no result row (empty, random bytes, only `[1, 2]` lines) is a ResultsError (a ValueError):
    # one line naming it, exit 2. Lines left out of a usable file are one note per file.
    notes: list[str] = []
    written = write_report(args.results, args.out, title=args.title, notes=notes)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"wrote {written}")
    return 0


def register(sub) -> None:
    p = add_command(sub, "report", run, "write the Markdown report of evaluation results (JSONL files from 'eval')",
                    backbones=False)
    p.add_argument("results", nargs="+", help="results files, e.g. runs/eval/default.jsonl runs/eval/videolucy.jsonl")
    p.add_argument("--out", default="report.md")
    p.add_argument("--title", default=None)
