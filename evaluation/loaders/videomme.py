"""Video-MME: rows {video_id, videoID, duration, domain, sub_category, task_type, question_id, question,
options ["A. ..."], answer}; parquet (needs pyarrow), JSON or JSONL. The older nested JSON layout
(one record per video with a `questions` list) is read too. Videos are named by `videoID`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.loaders.common import Malformed, each_item, read_rows, text_list

NAME = "videomme"


def _flatten(rows: list[Any]) -> Iterator[Any]:
    """Question rows, the nested layout's per-video `questions` flattened; anything that is not an object
    passes as it is (to be reported as malformed)."""
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("questions"), list):
            video = {k: v for k, v in row.items() if k != "questions"}
            for q in row["questions"]:
                yield {**video, **q} if isinstance(q, dict) else q
        else:
            yield row


def _item(n: int, row: dict[str, Any]) -> QAItem | Malformed:
    qid = str(row.get("question_id") or f"{row.get('video_id', '?')}-{n}")
    if not row.get("question") or not row.get("options"):
        return Malformed(qid, "missing question or options")
    youtube = str(row.get("videoID") or row.get("video_id") or "")
    return QAItem(id=qid, video_id=youtube, video_path=None, question=str(row["question"]).strip(),
                  options=text_list(row, "options"), answer=str(row.get("answer") or "").strip(),
                  question_type=str(row.get("task_type") or ""), source=NAME,
                  extra={"duration": row.get("duration"), "domain": row.get("domain"),
                         "sub_category": row.get("sub_category"), "video_number": row.get("video_id")})


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    yield from each_item(_flatten(read_rows(path)), _item,
                         lambda n, row: str(row.get("question_id") or f"{row.get('video_id', '?')}-{n}"))
