"""`vidrecall index`: build the memory of a video, level by level (resumable)."""
from __future__ import annotations

import argparse

from vidrecall.cli.common import add_command, console, make_qa, video_path


def run(args: argparse.Namespace) -> int:
    qa = make_qa(args)
    levels = tuple(lv.strip() for lv in args.levels.split(",") if lv.strip())
    out = console()
    for report in qa.index_levels(video_path(args.video), levels=levels, progress=not args.quiet):
        out.print(f"[bold]{report.level}[/]: {report.clips} clips, {report.created} captioned, "
                  f"{report.reused} already stored, {report.frames} frames decoded"
                  f"{f', {report.skipped_frames} bad frames skipped' if report.skipped_frames else ''}, "
                  f"{report.seconds:.1f} s")
    return 0


def register(sub) -> None:
    p = add_command(sub, "index", run, "build the memory of a video (resumable; re-captions nothing)")
    p.add_argument("video")
    p.add_argument("--levels", default="coarse", help="comma-separated levels to build, coarse first (default: coarse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
