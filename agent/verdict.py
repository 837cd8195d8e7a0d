"""The judge's verdict on one answer attempt: what answered, how sure, why. The graph state holds it as
is (`decision`, then `result`); a Step's detail records its JSON dump."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from vidrecall.core.result import Evidence
from vidrecall.core.searched import SearchedSummary

# "times": the program compared the times of the spans the LLM cited (agent/timeline.py)
DecidedBy = Literal["llm", "evidence", "llm+evidence", "times", "fallback", ""]


class LlmSaid(BaseModel):
    """The LLM's own claim, before the evidence check."""

    answer: str = ""
    confidence: float = 0.0
    ok: bool = False  # the model's output parsed
    quote: str = ""  # the memory text it copied as its evidence


class Verdict(BaseModel):
    option: str | None = None  # the option letter, as the user wrote it; None for open questions
    answer: str = ""
    confidence: float = 0.0
    decided_by: DecidedBy = ""
    forced: bool = False  # a budget or the end of the video forced this answer
    reason: str = ""
    grounded: bool | None = None  # the cited captions back the LLM's answer (None: not checked)
    llm: LlmSaid = Field(default_factory=LlmSaid)
    evidence: dict[str, Any] = Field(default_factory=dict)  # the option vote (evidence_vote.Vote.to_dict)
    evidence_spans: list[Evidence] = Field(default_factory=list)
    stop: str = ""  # set by finish: why the loop stopped
    # set by finish (agent/abstention.py): the answer abstains (open: "not found in the video"; multiple
    # choice: a guess, or the "not mentioned" option), and what the search read
    abstained: bool = False
    searched: SearchedSummary | None = None
    withheld: str = ""  # the answer (open) or option label abstaining replaced ("" when nothing was replaced)
