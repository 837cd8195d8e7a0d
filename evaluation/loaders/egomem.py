"""EgoMem (VideoLucy's benchmark): [{videoID, question_id, type (Detail|Event), question, options ["A. ..."],
answer}]. A folder means its EgoMem.json. Videos are named by videoID (e.g. A1_JAKE_DAY1)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.loaders.common import Malformed, read_rows

NAME = "egomem"


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    path = path / "EgoMem.json" if path.is_dir() else path
    for row in read_rows(path):
        qid = str(row.get("question_id", "?"))
        answer = str(row.get("answer") or "").strip()
        if not answer:
            # EgoMem has no hidden test split, so an empty answer is an annotation error, not "unlabelled".
            yield Malformed(qid, "empty answer")
            continue
        yield QAItem(id=qid, video_id=str(row.get("videoID", "")), video_path=None,
                     question=str(row.get("question", "")).strip(), options=[str(o).strip() for o in row.get("options", [])],
                     answer=answer, question_type=str(row.get("type", "")), source=NAME)
