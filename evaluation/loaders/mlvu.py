"""MLVU: JSON lists of {video, duration, question, candidates [...], answer (the candidate's text),
question_type}; one file per task, so a folder loads every *.json in it (recursively)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import LETTERS, QAItem, letter_options
from vidrecall.evaluation.loaders.common import Malformed, each_item, read_rows, text_list

NAME = "mlvu"


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    for file in files:
        def build(n: int, row: dict[str, Any], file: Path = file) -> QAItem | Malformed:
            qtype = str(row.get("question_type") or file.stem)
            qid = str(row.get("question_id") or f"{qtype}-{n}")
            candidates = text_list(row, "candidates") if row.get("candidates") is not None else []
            answer = str(row.get("answer") or "").strip()
            if not candidates:
                return Malformed(qid, "no candidates (open-ended MLVU tasks are not loaded)")
            if answer not in candidates:
                return Malformed(qid, f"answer {answer[:40]!r} is not one of the candidates")
            video = str(row.get("video") or "")
            return QAItem(id=qid, video_id=Path(video).stem, video_path=None, question=str(row.get("question", "")).strip(),
                          options=letter_options(candidates), answer=LETTERS[candidates.index(answer)],
                          question_type=qtype, source=NAME,
                          extra={"video_file": video, "duration": row.get("duration"), "answer_text": answer})

        def row_id(n: int, row: dict[str, Any], file: Path = file) -> str:
            return str(row.get("question_id") or f"{row.get('question_type') or file.stem}-{n}")

        yield from each_item(read_rows(file), build, row_id)
