"""Benchmark loaders: one module per annotation format, all producing `QAItem`s.

`load_items(format, path, video_dir=None)` parses, leaves out and reports malformed items, resolves
videos in `video_dir` (missing ones are listed, not fatal) and returns a `LoadResult`.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.loaders import (activitynet_qa, egomem, egoschema, haystack_qa, lvbench, mlvu, nextqa,
                                          qvhighlights, videomme)
from vidrecall.evaluation.loaders.common import (LoaderError, LoadResult, Malformed, VideoResolver,
                                                 multiple_choice_problem)

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "LoadResult", "LoaderError", "Malformed", "load_items", "formats"]


@dataclass(frozen=True)
class Format:
    name: str
    parse: Callable[..., Iterator[QAItem | Malformed]]
    doc: str
    videos_beside_annotations: bool = False
    # a format's own lookup when no single file is named by the item (EgoMem: a day's clips as a library)
    find_video: Callable[[QAItem, Path], str | None] | None = None


def _format(module: Any, **kw: Any) -> Format:
    return Format(module.NAME, module.parse, (module.__doc__ or "").strip().splitlines()[0],
                  find_video=getattr(module, "find_video", None), **kw)


FORMATS: dict[str, Format] = {f.name: f for f in [
    _format(videomme), _format(lvbench), _format(mlvu), _format(egoschema), _format(egomem), _format(nextqa),
    _format(activitynet_qa), _format(qvhighlights), _format(haystack_qa, videos_beside_annotations=True),
]}
_ALIASES = {"video-mme": "videomme", "video_mme": "videomme", "activitynet": "activitynet_qa",
            "activitynet-qa": "activitynet_qa", "next-qa": "nextqa", "needle": "haystack", "qvh": "qvhighlights"}


def formats() -> list[str]:
    return sorted(FORMATS)


def load_items(format: str, path: str | os.PathLike, video_dir: str | os.PathLike | None = None,
               **options: Any) -> LoadResult:
    """Read a benchmark's annotations into QAItems; see `LoadResult` for what is reported."""
    name = _ALIASES.get(format.lower(), format.lower())
    if name not in FORMATS:
        raise LoaderError(f"unknown benchmark format {format!r}; choose one of {formats()}")
    fmt, path = FORMATS[name], Path(path)
    if not path.exists():
        raise LoaderError(f"{path}: annotation file not found")
    if video_dir is None and fmt.videos_beside_annotations:
        video_dir = path.parent
    resolver = VideoResolver(video_dir)
    result = LoadResult(source=name, path=str(path), video_dir=str(video_dir) if video_dir is not None else None)
    seen: set[str] = set()
    missing: dict[str, None] = {}
    for entry in fmt.parse(path, **options):
        if isinstance(entry, Malformed):
            result.malformed.append(entry)
            continue
        problem = multiple_choice_problem(entry) if entry.options else None
        if problem is None and entry.id in seen:
            problem = "duplicate id"
        if problem:
            result.malformed.append(Malformed(entry.id, problem))
            continue
        seen.add(entry.id)
        if not entry.answer and entry.question_type != "grounding":
            result.unlabelled.append(entry.id)
        found: Path | str | None = resolver.find(str(entry.extra.get("video_file") or ""), entry.video_id)
        if not found and fmt.find_video is not None and video_dir is not None:
            found = fmt.find_video(entry, Path(video_dir))
        if found:
            entry.video_path = str(found)
        elif video_dir is not None:
            missing.setdefault(entry.video_id)
        result.items.append(entry)
    result.missing_videos = list(missing)
    if result.malformed:
        log.warning("%s: %d malformed item(s) left out: %s", path, len(result.malformed),
                    "; ".join(f"{m.id} ({m.reason})" for m in result.malformed[:5]))
    if missing:
        log.warning("%s: %d video(s) not found in %s", path, len(missing), video_dir)
    return result
