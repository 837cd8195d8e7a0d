"""The typed question every loader produces and every runner consumes.

A multiple-choice item carries options as "A. text" strings and a letter answer; an open-ended item
has no options and a free-text answer; a grounding item (QVHighlights-style) has a query as its
question, no answer, and its gold windows in `gold_spans`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from vidrecall.core.types import Span

LETTERS = "ABCDEFGHIJ"
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-J])\s*[\.\):]\s*")


def letter_options(texts: list[str]) -> list[str]:
    """["red", "green"] -> ["A. red", "B. green"]."""
    return [f"{LETTERS[i]}. {t.strip()}" for i, t in enumerate(texts)]


def option_letter(option: str) -> str | None:
    """The letter an option string starts with ("B. green" -> "B"), else None."""
    m = _OPTION_PREFIX.match(option)
    return m.group(1) if m else None


def option_text(option: str) -> str:
    """An option without its letter prefix ("B. green" -> "green")."""
    return _OPTION_PREFIX.sub("", option, count=1).strip()


@dataclass
class QAItem:
    id: str
    video_id: str
    video_path: str | None
    question: str
    options: list[str] = field(default_factory=list)  # ["A. ...", "B. ..."]; empty for open-ended
    answer: str = ""  # a letter for multiple choice, else free text
    question_type: str = ""
    gold_spans: list[Span] = field(default_factory=list)
    source: str = ""  # the benchmark/format it came from
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_multiple_choice(self) -> bool:
        return bool(self.options)

    @property
    def answer_text(self) -> str:
        """The gold answer as text: the option's text for multiple choice, else the answer itself."""
        if self.is_multiple_choice:
            for opt in self.options:
                if option_letter(opt) == self.answer:
                    return option_text(opt)
        return self.answer

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "video_id": self.video_id, "video_path": self.video_path,
                "question": self.question, "options": list(self.options), "answer": self.answer,
                "question_type": self.question_type, "gold_spans": [s.as_list() for s in self.gold_spans],
                "source": self.source, "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "QAItem":
        spans = [Span(float(s), float(e)) for s, e in d.get("gold_spans", [])]
        return cls(id=str(d["id"]), video_id=str(d.get("video_id", "")), video_path=d.get("video_path"),
                   question=d["question"], options=list(d.get("options", [])), answer=str(d.get("answer", "")),
                   question_type=d.get("question_type", ""), gold_spans=spans, source=d.get("source", ""),
                   extra=dict(d.get("extra", {})))
