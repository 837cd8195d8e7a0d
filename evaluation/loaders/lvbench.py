"""LVBench: `video_info.meta.jsonl`, one record per video {key, type, qa: [{uid, question, answer,
question_type: [...], time_reference "mm:ss-mm:ss"}]}, or flat rows with those fields plus `key`.
Options are embedded in the question as lines "(A) ...". Videos are named by `key`."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import QAItem, letter_options
from vidrecall.evaluation.loaders.common import Malformed, each_item, parse_time_range, read_rows

NAME = "lvbench"
_OPTION = re.compile(r"\(([A-J])\)\s*(.*?)\s*(?=\n\s*\([A-J]\)|\s\([A-J]\)\s|$)", re.S)


def split_options(text: str) -> tuple[str, list[str]]:
    """"What?\\n(A) x\\n(B) y" -> ("What?", ["A. x", "B. y"])."""
    first = re.search(r"\(A\)", text)
    if not first:
        return text.strip(), []
    question = text[:first.start()].strip()
    found = _OPTION.findall(text[first.start():])
    return question, letter_options([body for _, body in found])


def _rows(path: Path) -> Iterator[Any]:
    """Question rows, a video record's `qa` list flattened; anything that is not an object passes as it is
    (to be reported as malformed)."""
    for row in read_rows(path):
        if isinstance(row, dict) and isinstance(row.get("qa"), list):
            for qa in row["qa"]:
                yield {"key": row.get("key"), "video_type": row.get("type"), **qa} if isinstance(qa, dict) else qa
        else:
            yield row


def _item(n: int, row: dict[str, Any]) -> QAItem | Malformed:
    qid = str(row.get("uid") or f"{row.get('key', '?')}-{n}")
    question, options = split_options(str(row.get("question") or ""))
    if not options:
        return Malformed(qid, "no '(A) ...' options found in the question text")
    types = row.get("question_type") or []
    types = [types] if isinstance(types, str) else [str(t) for t in types]
    span = parse_time_range(str(row.get("time_reference") or ""))
    return QAItem(id=qid, video_id=str(row.get("key") or ""), video_path=None, question=question, options=options,
                  answer=str(row.get("answer") or "").strip().strip("()"),
                  question_type=types[0] if types else "", gold_spans=[span] if span else [], source=NAME,
                  extra={"question_types": types, "video_type": row.get("video_type") or row.get("type"),
                         "time_reference": row.get("time_reference")})


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    yield from each_item(_rows(path), _item, lambda n, row: str(row.get("uid") or f"{row.get('key', '?')}-{n}"))
