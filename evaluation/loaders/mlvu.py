"""MLVU: JSON lists of {video, duration, question, candidates [...], answer (the candidate's text),
question_type}; one file per task, so a folder loads every *.json in it (recursively)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from vidrecall.evaluation.items import LETTERS, QAItem, letter_options
from vidrecall.evaluation.loaders.common import Malformed, read_rows

NAME = "mlvu"


def parse(path: Path) -> Iterator[QAItem | Malformed]:
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    for file in files:
        for n, row in enumerate(read_rows(file)):
            qtype = str(row.get("question_type") or file.stem)
            qid = str(row.get("question_id") or f"{qtype}-{n}")
            candidates = [str(c).strip() for c in row.get("candidates") or []]
            answer = str(row.get("answer") or "").strip()
            if not candidates:
                yield Malformed(qid, "no candidates (open-ended MLVU tasks are not loaded)")
                continue
            if answer not in candidates:
                yield Malformed(qid, f"answer {answer[:40]!r} is not one of the candidates")
                continue
            video = str(row.get("video") or "")
            yield QAItem(id=qid, video_id=Path(video).stem, video_path=None, question=str(row.get("question", "")).strip(),
                         options=letter_options(candidates), answer=LETTERS[candidates.index(answer)],
                         question_type=qtype, source=NAME,
                         extra={"video_file": video, "duration": row.get("duration"), "answer_text": answer})
