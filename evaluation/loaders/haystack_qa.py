"""Needle-in-a-haystack QA written by evaluation/haystack.py (and the shared haystack_15min):
{video, questions: [{id, question, options, answer, evidence_s, question_type?}]}; `evidence_s` is
[], [start, end] or [[start, end], ...]. The video lies beside the JSON unless a folder is given."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.loaders.common import LoaderError, Malformed, each_item, read_json, text_list
from vidrecall.core.types import Span

NAME = "haystack"


def evidence_spans(evidence: Any) -> list[Span]:
    if not evidence:
        return []
    if all(isinstance(x, (int, float)) for x in evidence):
        evidence = [evidence]
    return [Span(float(s), float(e)) for s, e in evidence]


def _type_from_id(qid: str) -> str:
    """The shared file's ids read "needle_<type>_<what>"."""
    parts = qid.split("_")
    return parts[1] if len(parts) > 2 and parts[0] == "needle" else parts[0]


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise LoaderError(f"{path}: expected {{'video': ..., 'questions': [...]}} (a *.needle_qa.json file)")
    video = str(data.get("video", ""))

    def build(n: int, row: dict[str, Any]) -> QAItem | Malformed:
        qid = str(row.get("id", "?"))
        try:
            spans = evidence_spans(row.get("evidence_s"))
        except (TypeError, ValueError) as exc:
            return Malformed(qid, f"bad evidence_s ({exc})")
        return QAItem(id=qid, video_id=Path(video).stem, video_path=None, question=str(row.get("question", "")),
                      options=text_list(row, "options", required=False), answer=str(row.get("answer", "")),
                      question_type=str(row.get("question_type") or _type_from_id(qid)),
                      gold_spans=spans, source=NAME, extra={"video_file": video, "needle": row.get("needle")})

    yield from each_item(data["questions"], build, lambda n, row: str(row.get("id", f"#{n + 1}")))
