"""The graph's state (plain JSON-able values, so a SQLite checkpointer can persist chat sessions) and
the run context (live objects: memory, models, the cost meter), which is never persisted."""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel

from vidrecall.core.config import Config
from vidrecall.core.accounting import CostMeter
from vidrecall.core.types import Span


class ZoomTarget(BaseModel):
    """One span localize chose for the next zoom, and what the captioner should look for there."""

    start: float
    end: float
    level: str  # the level the span was captioned at; the zoom captions it one level finer
    instruction: str = ""
    source: str = ""  # who chose it: "llm" | "retrieval" | "question time" | "retrieval fallback"
    video_id: str | None = None  # which video of a library; None: the question's video

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


class AgentState(TypedDict, total=False):
    """Every per-question channel is set by `fresh_question_state`, so nodes read them by key."""

    # the question (set fresh by every turn's input)
    question: str
    options: list[str]  # validated by parse_options before the graph runs
    # memory the agent reads: node ids recalled or captioned for this question
    focus_ids: list[int]
    window: list[list[float]]  # videolucy's two-period filter: coarse spans kept in view; [] = all
    filtered: bool  # videolucy's filter has run for this question
    explored: list[list[float]]  # spans already zoomed into
    plan: list[dict]  # ZoomTarget dumps: the spans localize chose for the next zoom
    iteration: int
    decision: dict  # a Verdict dump: the latest answer attempt after the evidence check ({} before one)
    stop: str  # why the loop stopped: "confident" | a spent budget | "nothing left to explore"
    result: dict  # a Verdict dump: the final answer
    trajectory: list[dict]  # Step dicts, in order
    # a chat session's earlier turns; the only channel that accumulates across turns
    history: Annotated[list[dict], operator.add]


@dataclass
class AgentContext:
    """Everything a node needs that is not data: one per question."""

    config: Config
    memory: Any  # vidrecall.memory.VideoMemory
    llm: BaseChatModel
    video: Any  # vidrecall.memory.store.VideoRecord
    meter: CostMeter
    deadline: float | None = None  # time.monotonic() at which the question's time budget ends (model calls stop)

    @property
    def duration(self) -> float:
        return float(self.video.duration)

    @property
    def embedder(self):
        return self.memory.embedder


def fresh_question_state(question: str, options: list[str] | None) -> AgentState:
    """The input of one turn: resets every per-question channel, leaves `history` to accumulate."""
    return AgentState(question=question, options=list(options or []), focus_ids=[], window=[], filtered=False,
                      explored=[], plan=[], iteration=0, decision={}, stop="", result={}, trajectory=[])
