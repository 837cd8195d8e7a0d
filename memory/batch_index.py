"""Indexing many videos in one process: file by file, level by level, resumable per clip.

A file that cannot be read (not a video, truncated, unreadable) is reported in its result and skipped;
the rest are still indexed. The Ray engine (memory/distributed.py) returns the same results.
"""
from __future__ import annotations

from vidrecall.core.errors import first_line

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm


@dataclass
class FileIndexResult:
    """What indexing one file did: its per-level reports, or why it was skipped."""

    path: str
    video_id: str = ""
    reports: list = field(default_factory=list)  # IndexReport per level
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def created(self) -> int:
        return sum(r.created for r in self.reports)

    @property
    def reused(self) -> int:
        return sum(r.reused for r in self.reports)


def file_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean "this file is bad" (skip it), as opposed to a broken captioner (stop)."""
    from vidrecall.memory.store import MemoryStoreError
    from vidrecall.tools.video import VideoError

    return (VideoError, MemoryStoreError, OSError)



def index_files(memory, files: list[Path], levels: tuple[str, ...], *, progress: bool = True,
                on_result: Callable[[int, int, FileIndexResult], None] | None = None) -> list[FileIndexResult]:
    """Index `files` at `levels` in order; `on_result(done, total, result)` after each file."""
    results = []
    with tqdm(total=len(files), disable=not progress or len(files) < 2, unit="video", desc="videos") as bar:
        for path in files:
            result = index_file(memory, Path(path), levels, progress=progress)
            results.append(result)
            bar.update(1)
            if on_result:
                on_result(len(results), len(files), result)
    return results


def index_file(memory, path: Path, levels: tuple[str, ...], *, progress: bool = True) -> FileIndexResult:
    started = time.monotonic()
    result = FileIndexResult(str(path))
    try:
        record = memory.register(path)
        result.video_id = record.id
        for level in levels:
            result.reports.append(memory.build_level(record, level, progress=progress))
        memory.build_speech(record, progress=progress)  # no-op unless config.speech is on
    except file_errors() as exc:
        result.error = first_line(exc)
    result.seconds = round(time.monotonic() - started, 3)
    return result
