"""The graph's state (plain JSON-able values, so a SQLite checkpointer can persist chat sessions) and
the run context (live objects: memory, models, the cost meter), which is never persisted."""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel

from vidrecall.core.config import Config
from vidrecall.core.accounting import CostMeter


class AgentState(TypedDict, total=False):
    # the question (set fresh by every turn's input)
    question: str
    options: list[str]
    # memory the agent reads: node ids recalled or captioned for this question
    focus_ids: list[int]
    window: list[list[float]]  # videolucy's two-period filter: coarse spans kept in view; [] = all
    explored: list[list[float]]  # spans already zoomed into
    plan: list[dict]  # spans chosen by localize for the next zoom: {start, end, level, instruction, source}
    iteration: int
    decision: dict  # the latest answer attempt, after the evidence check
    stop: str  # why the loop stopped: "confident" | a spent budget | "nothing left to explore"
    result: dict  # the final answer's fields
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

    @property
    def duration(self) -> float:
        return float(self.video.duration)

    @property
    def embedder(self):
        return self.memory.embedder


def fresh_question_state(question: str, options: list[str] | None) -> dict:
    """The input of one turn: resets every per-question channel, leaves `history` to accumulate."""
    return {"question": question, "options": list(options or []), "focus_ids": [], "window": [], "explored": [],
            "plan": [], "iteration": 0, "decision": {}, "stop": "", "result": {}, "trajectory": []}
