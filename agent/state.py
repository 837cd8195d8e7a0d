"""The graph's state and the run context (live objects: memory, models, the cost meter; never persisted).

The state's channels hold typed values: pydantic models (`ZoomTarget`, `Verdict`, `Step`) and plain data.
LangGraph's SQLite checkpointer (chat sessions) stores a pydantic model as (module, class, model_dump())
and rebuilds the class on load; `checkpoint_types` lists the classes for its msgpack allowlist, so a
resumed session gets the same types back without LangGraph's "unregistered type" warning."""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict, get_args, get_type_hints

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel

from vidrecall.agent.verdict import Verdict
from vidrecall.core.config import Config
from vidrecall.core.accounting import CostMeter
from vidrecall.core.result import Step
from vidrecall.core.run_context import RunContext
from vidrecall.core.types import Span
from vidrecall.indexing.indexer import Indexer
from vidrecall.memory.embedder import Embedder
from vidrecall.memory.library import LibraryRecord
from vidrecall.memory.protocol import Memory
from vidrecall.memory.store import VideoRecord


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


class Turn(TypedDict):
    """One finished turn of a chat session: what later turns (and `VideoQA.session_history`) read."""

    question: str
    options: list[str]
    answer: str
    confidence: float
    focus_ids: list[int]  # the memory nodes the turn read: a follow-up on the same video starts from them
    explored: list[list[float]]


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
    plan: list[ZoomTarget]  # the spans localize chose for the next zoom
    iteration: int
    decision: Verdict | None  # the latest answer attempt after the evidence check (None before one)
    stop: str  # why the loop stopped: "confident" | a spent budget | "nothing left to explore"
    result: Verdict | None  # the final answer (None until finish has run)
    trajectory: list[Step]  # in order
    conversation: list[dict]  # the search strategy's messages with its LLM (LangChain message dicts)
    # a chat session's earlier turns; the only channel that accumulates across turns
    history: Annotated[list[Turn], operator.add]


def checkpoint_types() -> list[type[BaseModel]]:
    """The pydantic classes AgentState's channels hold: the checkpointer's msgpack allowlist. Models nested
    in them travel inside their parent's model_dump() and need no entry."""
    found: dict[type[BaseModel], None] = {}

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found[annotation] = None
        for arg in get_args(annotation):
            walk(arg)

    for annotation in get_type_hints(AgentState).values():
        walk(annotation)
    return list(found)


@dataclass
class AgentContext:
    """Everything a node needs that is not data: one per question."""

    config: Config
    memory: Memory  # one video's, or a library's seen as one timeline
    indexer: Indexer  # captions what the zoom asks for
    llm: BaseChatModel
    video: VideoRecord | LibraryRecord
    run: RunContext  # the question's cost meter and progress sink
    deadline: float | None = None  # time.monotonic() at which the question's time budget ends (model calls stop)

    @property
    def meter(self) -> CostMeter:
        return self.run.meter

    @property
    def duration(self) -> float:
        return float(self.video.duration)

    @property
    def embedder(self) -> Embedder:
        return self.memory.embedder


def decided(state: AgentState) -> Verdict:
    """The latest answer attempt; the answer node sets it before any router or later node reads it."""
    verdict = state["decision"]
    if verdict is None:
        raise RuntimeError("no answer attempt yet: the graph routes here only after an answer node")
    return verdict


def fresh_question_state(question: str, options: list[str] | None) -> AgentState:
    """The input of one turn: resets every per-question channel, leaves `history` to accumulate."""
    return AgentState(question=question, options=list(options or []), focus_ids=[], window=[], filtered=False,
                      explored=[], plan=[], iteration=0, decision=None, stop="", result=None, trajectory=[],
                      conversation=[])
