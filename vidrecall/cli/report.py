"""`vidrecall report`: the Markdown report (and its accuracy-vs-captions PNG, and the tables' numbers as JSON)
from results files that `vidrecall eval` wrote, e.g. to compare runs made on different days or machines; or,
given the run's folder, rebuilt from its predictions.jsonl and trajectory files alone (no model, no store)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vidrecall.cli.common import add_command, safe
from vidrecall.core.config import ConfigError


def run(args: argparse.Namespace) -> int:
    from vidrecall.evaluation.report import write_report, write_run_report

    folders = [p for p in args.results if Path(p).is_dir()]
    if folders and len(args.results) > 1:
        raise ConfigError(f"{folders[0]}: give one run folder, or results files, not both")
    missing = [p for p in args.results if not Path(p).exists()]
    if missing:
        raise ConfigError(f"{missing[0]}: no such results file or run folder (vidrecall eval writes "
                          "runs/eval/<method>.jsonl and runs/eval/predictions.jsonl)")
    if Path(args.out).suffix.lower() != ".md":
        raise ConfigError(f"--out {args.out}: the report is Markdown; give a path ending in .md")
    # A file with no result row (empty, random bytes, only `[1, 2]` lines) is a ResultsError (a ValueError):
    # one line naming it, exit 2. Lines left out of a usable file are one note per file.
    notes: list[str] = []
    if folders:
        folder = Path(folders[0])
        ran = folder / "report.json"  # the tables' numbers `vidrecall eval` wrote (unless --out overwrites them)
        before = ran.read_text(encoding="utf-8") if ran.is_file() else None
        written = write_run_report(folder, args.out, title=args.title, notes=notes)
        if before is not None and written.with_suffix(".json").resolve() != ran.resolve():
            same = json.loads(before) == json.loads(written.with_suffix(".json").read_text(encoding="utf-8"))
            notes.append(f"the tables {'match' if same else 'DIFFER from'} the ones the run wrote ({ran})")
    else:
        written = write_report(args.results, args.out, title=args.title, notes=notes)
    for line in notes:
        print(f"note: {safe(line)}", file=sys.stderr)
    print(safe(f"wrote {written}"))
    return 0


def register(sub) -> None:
    p = add_command(sub, "report", run, "write the Markdown report of evaluation results (JSONL files from 'eval', "
                    "or the run folder: rebuilt from its predictions.jsonl and trajectories/ without any model)",
                    backbones=False)
    p.add_argument("results", nargs="+", help="results files, e.g. runs/eval/default.jsonl runs/eval/videolucy.jsonl; "
                   "or one run folder, e.g. runs/eval")
    p.add_argument("--out", default="report.md")
    p.add_argument("--title", default=None)
