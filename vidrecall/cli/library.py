"""`vidrecall library [DIR|GLOB …]`: what is indexed — each file on the library timeline, or every video
of the store — with start time, duration, captions per level; and the target check `ask`/`chat` share."""
from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vidrecall.cli.common import add_command, console, make_qa, safe, styled, video_path
from vidrecall.core.config import ConfigError

if TYPE_CHECKING:
    from vidrecall.memory.store import VideoRecord


def question_target(value: str) -> str:
    """A video file, a folder of videos or a glob pattern (a library); one line naming the value otherwise."""
    path = Path(value).expanduser()
    if path.is_dir():
        return str(path)
    if glob.has_magic(value) and not path.exists():
        if not glob.glob(str(path), recursive=True):
            raise ConfigError(f"{value}: the pattern matches no file")
        return value
    return video_path(value)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from vidrecall.core.types import fmt_time

    qa = make_qa(args)
    memory = qa.memory
    levels = [lv.name for lv in qa.config.levels]
    rows: list[tuple[VideoRecord, str, float | None]]  # (video, its start time, its timeline offset)
    skipped: list[str] = []  # each skip and note is shown once, below (the library does not log them too)
    notes: list[str] = []
    if args.targets:
        from vidrecall.memory.library import LibraryError, open_library

        for t in args.targets:
            question_target(t)
        try:
            library = open_library(memory, args.targets if len(args.targets) > 1 else args.targets[0],
                                   on_skip=skipped.append, on_note=notes.append)
        except LibraryError:  # no usable file: why each one was left out, then the error line
            for line in skipped:
                print(safe(f"skipped {line}"), file=sys.stderr)
            raise
        rows = [(e.record, e.start.label if e.start else "", e.offset) for e in library.entries]
        title, order = library.root, library.order_source
    else:
        rows = [(v, "", None) for v in memory.videos()]
        title, order = str(qa.config.store_path), "added"
    counts = [{lv: memory.count(rec.id, lv) for lv in levels} for rec, _, _ in rows]
    if args.json:
        print(json.dumps({"library": title, "order": order, "skipped": skipped, "notes": notes, "videos": [
            {"path": rec.path, "video_id": rec.id, "start": start or None, "timeline_offset": offset,
             "duration": rec.duration, "captions": c, "indexed": all(c[lv] for lv in levels[:1])}
            for (rec, start, offset), c in zip(rows, counts)]}, indent=1))
        return 0
    out = console()
    out.print(styled((title, "bold"), f"  {len(rows)} videos, ordered by {order}"))
    table = Table("#", "file", "start", "timeline", "duration", *levels)
    for n, ((rec, start, offset), c) in enumerate(zip(rows, counts), 1):
        where = fmt_time(offset) if offset is not None else ""
        table.add_row(*(Text(x) for x in (str(n), Path(rec.path).name, start, where, fmt_time(rec.duration),
                                          *[str(c[lv]) for lv in levels])))
    out.print(table)
    for line in skipped:
        out.print(styled(("skipped ", "yellow"), line))
    for line in notes:
        out.print(styled(("note ", "yellow"), line))
    return 0


def register(sub) -> None:
    p = add_command(sub, "library", run, "list indexed videos: a library's files on its timeline, or the whole store")
    p.add_argument("targets", nargs="*", help="a folder, glob or files (default: every video in the store)")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
