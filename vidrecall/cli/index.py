"""`vidrecall index`: build the memory of a video, level by level (resumable)."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from vidrecall.cli.common import (EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_SOME_SKIPPED, add_command,
                                  console, make_qa, styled, video_path)
from vidrecall.cli.index_many import add_many_flags, run_many
from vidrecall.core.config import ConfigError
from vidrecall.core.progress import TqdmBars, silent
from vidrecall.indexing.reports import IndexReport


@dataclass(frozen=True)
class LevelReportJson:
    """One level's line of `index --json`."""

    video_id: str
    level: str
    clips: int
    frames_decoded: int
    frames_sent: int  # frames given to the captioner (change-aware levels send fewer than they decode)
    captions_made: int
    captions_reused: int  # already stored, or captioned meanwhile by another process
    skipped_frames: int
    seconds: float

    @classmethod
    def of(cls, report: IndexReport) -> "LevelReportJson":
        return cls(report.video_id, report.level, report.clips, report.frames, report.frames_sent, report.created,
                   report.reused, report.skipped_frames, report.seconds)


def run(args: argparse.Namespace) -> int:
    levels = parse_levels(args.levels)
    if wants_many(args):  # folders, globs, several files, or another engine
        return run_many(args, levels)
    qa = make_qa(args)
    progress = silent if args.quiet or args.json else TqdmBars()
    reports = qa.index(video_path(args.video[0]), levels=levels, progress=progress).reports
    if args.json:
        print(json.dumps([asdict(LevelReportJson.of(r)) for r in reports], indent=2))
        return 0
    out = console()
    for report in reports:
        sent = f", {report.frames_sent} sent" if report.frames_sent != report.frames else ""
        out.print(styled((report.level, "bold"),
                         f": {report.clips} clips, {report.created} captioned, "
                         f"{report.reused} already stored, {report.frames} frames decoded{sent}"
                         f"{f', {report.skipped_frames} bad frames skipped' if report.skipped_frames else ''}, "
                         f"{report.seconds:.1f} s"))
    return 0


def wants_many(args: argparse.Namespace) -> bool:
    """More than one target, a folder or a glob, or an engine other than the default: run_many's form."""
    paths = list(args.video)
    return len(paths) > 1 or args.engine != "pipelined" or not Path(paths[0]).expanduser().is_file()


def parse_levels(value: str) -> tuple[str, ...]:
    levels = tuple(lv.strip() for lv in value.split(",") if lv.strip())
    if not levels:
        raise ConfigError(f"--levels {value!r}: names no level; give level names, e.g. --levels coarse,fine")
    return levels


def register(sub) -> None:
    p = add_command(sub, "index", run, "build the memory of a video (resumable; re-captions nothing)")
    p.epilog = (f"exit status: 0 indexed, {EXIT_BAD_INPUT} bad input or setup, {EXIT_SOME_SKIPPED} some inputs were "
                f"skipped (each is named; the others are indexed), {EXIT_INTERRUPTED} interrupted, "
                f"{EXIT_BROKEN_PIPE} the output's reader went away. A file whose speech cannot be read is indexed "
                "without it, after one warning")
    p.add_argument("video", nargs="+", help="video files, folders (searched recursively) or glob patterns")
    add_many_flags(p)
    p.add_argument("--levels", default="coarse", help="comma-separated levels to build, coarse first (default: coarse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true",
                   help="print each level's report as JSON (clips, frames decoded/sent, captions made/reused, seconds)")
