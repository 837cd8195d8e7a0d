"""EgoSchema: questions [{q_uid, question, "option 0".."option 4", google_drive_id}] and answers
{q_uid: index} (`subset_answers.json`, the 500 public ones, found next to the questions or given).
Questions without a public answer are kept unlabelled. Videos are named by q_uid."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from vidrecall.evaluation.items import LETTERS, QAItem, letter_options
from vidrecall.evaluation.loaders.common import LoaderError, Malformed, each_item, read_json, read_rows

NAME = "egoschema"
QUESTION_FILES = ("questions.json", "questions_early_partial.json")


def _answers(path: Path) -> dict[str, int]:
    """{q_uid: option index}; an answer that is not an index 0-4 is no answer (its question stays unlabelled)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise LoaderError(f"{path}: expected an object {{q_uid: answer index, ...}}")
    out = {}
    for k, v in data.items():
        if isinstance(v, bool):
            continue
        try:
            out[str(k)] = int(v)
        except (TypeError, ValueError):
            continue
    return out


def parse(path: Path, answers: str | Path | None = None) -> Iterator[QAItem | Malformed]:
    if path.is_dir():
        found = [path / f for f in QUESTION_FILES if (path / f).exists()]
        if not found:
            raise LoaderError(f"{path}: no EgoSchema questions file ({' or '.join(QUESTION_FILES)})")
        path = found[0]
    answers_path = Path(answers) if answers else path.parent / "subset_answers.json"
    gold = _answers(answers_path) if answers_path.exists() else {}
    ego4d_path = path.parent / "uid_to_ego4d.json"
    ego4d = read_json(ego4d_path) if ego4d_path.exists() else {}
    ego4d = ego4d if isinstance(ego4d, dict) else {}

    def build(n: int, row: dict[str, Any]) -> QAItem | Malformed:
        uid = str(row.get("q_uid") or "")
        opts = [str(row[f"option {i}"]).strip() for i in range(5) if row.get(f"option {i}") is not None]
        if not uid or len(opts) != 5:
            return Malformed(uid or "?", f"expected q_uid and 5 options, found {len(opts)}")
        answer = gold.get(uid)
        return QAItem(id=uid, video_id=uid, video_path=None, question=str(row.get("question", "")).strip(),
                      options=letter_options(opts),
                      answer=LETTERS[answer] if answer is not None and 0 <= answer < 5 else "",
                      question_type="egoschema", source=NAME, extra={"ego4d": ego4d.get(uid)})

    yield from each_item(read_rows(path), build, lambda n, row: str(row.get("q_uid") or f"#{n + 1}"))
