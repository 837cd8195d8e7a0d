"""ActivityNet-QA (open-ended): `<split>_q.json` [{video_name, question, question_id}] joined with
`<split>_a.json` [{answer, type, question_id}]. Videos are named "v_<video_name>"."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import QAItem
from vidrecall.evaluation.loaders.common import LoaderError, Malformed, each_item, read_rows

NAME = "activitynet_qa"
TYPES = {0: "motion", 1: "spatial", 2: "temporal", 3: "yes_no", 4: "color", 5: "object", 6: "location",
         7: "number", 8: "other"}


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    if path.is_dir():
        path = path / "test_q.json"
    if not path.name.endswith("_q.json"):
        raise LoaderError(f"{path}: give the questions file, e.g. test_q.json (answers are read from test_a.json)")
    answers_path = path.with_name(path.name[:-len("_q.json")] + "_a.json")
    # an answer row that is not an object, or has no question_id, answers nothing (its question is unlabelled)
    answers = {str(a["question_id"]): a for a in (read_rows(answers_path) if answers_path.exists() else [])
               if isinstance(a, dict) and a.get("question_id") is not None}

    def build(n: int, row: dict[str, Any]) -> QAItem | Malformed:
        qid = str(row.get("question_id", "?"))
        if not row.get("question") or not row.get("video_name"):
            return Malformed(qid, "missing question or video_name")
        gold = answers.get(qid, {})
        kind = gold.get("type")
        return QAItem(id=qid, video_id=f"v_{row['video_name']}", video_path=None,
                      question=str(row["question"]).strip() + "?", answer=str(gold.get("answer", "")),
                      question_type=TYPES.get(kind, "") if isinstance(kind, int) else "", source=NAME)

    yield from each_item(read_rows(path), build, lambda n, row: str(row.get("question_id", f"#{n + 1}")))
