"""QVHighlights-style grounding: JSONL rows {qid, query, vid, duration, relevant_windows [[s, e], ...]}.
The query becomes the question; the windows are the gold spans; there is no answer to score."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.loaders.common import Malformed, each_item, read_rows
from vidrecall.core.types import Span

NAME = "qvhighlights"


def _item(n: int, row: dict[str, Any]) -> QAItem | Malformed:
    qid = str(row.get("qid", "?"))
    try:
        spans = [Span(float(s), float(e)) for s, e in row.get("relevant_windows") or []]
    except (TypeError, ValueError) as exc:
        return Malformed(qid, f"bad relevant_windows ({exc})")
    if not row.get("query"):
        return Malformed(qid, "empty query")
    return QAItem(id=qid, video_id=str(row.get("vid", "")), video_path=None, question=str(row["query"]).strip(),
                  question_type="grounding", gold_spans=spans, source=NAME,
                  extra={"duration": row.get("duration"), "relevant_clip_ids": row.get("relevant_clip_ids")})


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    yield from each_item(read_rows(path), _item, lambda n, row: str(row.get("qid", f"#{n + 1}")))
