"""EgoMem (VideoLucy's benchmark): [{videoID, question_id, type (Detail|Event), question, options ["A. ..."],
answer}]. A folder means its EgoMem.json.

A videoID (e.g. A1_JAKE_DAY1) names one person's day: one file of that name (VideoLucy's concatenation),
or, as EgoLife ships it, that day's clips (`A1_JAKE/DAY1/DAY1_A1_JAKE_11094208.mp4`, ...), asked as a
library whose timeline the clips' DAYn_HHMMSSff names order."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.loaders.common import Malformed, each_item, read_rows, text_list
from vidrecall.memory.library import video_files

NAME = "egomem"


def _item(n: int, row: dict[str, Any]) -> QAItem | Malformed:
    qid = str(row.get("question_id", "?"))
    answer = str(row.get("answer") or "").strip()
    if not answer:
        # EgoMem has no hidden test split, so an empty answer is an annotation error, not "unlabelled".
        return Malformed(qid, "empty answer")
    return QAItem(id=qid, video_id=str(row.get("videoID", "")), video_path=None,
                  question=str(row.get("question", "")).strip(), options=text_list(row, "options", required=False),
                  answer=answer, question_type=str(row.get("type", "")), source=NAME)


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    path = path / "EgoMem.json" if path.is_dir() else path
    yield from each_item(read_rows(path), _item, lambda n, row: str(row.get("question_id", f"#{n + 1}")))


def find_video(item: QAItem, video_dir: Path) -> str | None:
    """The day's clips as a library target: a folder holding only them, else a glob matching their names."""
    person, _, day = item.video_id.rpartition("_")  # "A1_JAKE", "DAY1"
    if not person or not day.upper().startswith("DAY"):
        return None
    for folder in (video_dir / person / day, video_dir / item.video_id, video_dir / day / person):
        if folder.is_dir() and video_files(folder):
            return str(folder)
    for pattern in (f"{day}_{person}_*", f"{person}_{day}_*"):  # flat folders: DAY1_A1_JAKE_11094208.mp4
        if any(video_dir.rglob(pattern)):
            return str(video_dir / "**" / pattern)
    return None
