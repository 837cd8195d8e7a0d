"""Recording one node's run as a Step: its own model calls and frames via a child cost meter; and live
progress inside a node ("captioning 7/22 of 2:00-3:00") sent as LangGraph custom stream events, which
VideoQA.stream turns into `Progress` items between the Steps."""
from __future__ import annotations

import time
from typing import Any

from pydantic_core import to_jsonable_python

from vidrecall.core.progress import ProgressEvent
from vidrecall.core.result import Progress, Step
from vidrecall.agent.state import AgentContext, AgentState


class StepRecorder:
    """Open at the start of a node; `done(...)` returns the state update that appends the Step. The Step's
    detail is recorded as JSON (a Verdict or ZoomTarget passed in becomes its dump), so it reads the same
    live, in the Answer, and in a resumed session."""

    def __init__(self, ctx: AgentContext, state: AgentState, node: str):
        self.meter = ctx.meter.child()
        self.node = node
        self.index = len(state["trajectory"])
        self.previous = list(state["trajectory"])
        self.started = time.monotonic()

    def progress(self, message: str, done: int | None = None, total: int | None = None) -> None:
        report_progress(message, done, total, node=self.node, started=self.started)

    def done(self, message: str, *, spans: list[tuple[float, float]] | None = None, level: str | None = None,
             **detail: Any) -> dict:
        step = Step(
            index=self.index, node=self.node, message=" ".join(message.split()),  # one line for live display
            spans=[(round(s, 2), round(e, 2)) for s, e in (spans or [])], level=level,
            frames_sampled=self.meter.frames_decoded,
            captions_added=sum(self.meter.captions_by_level.values()),
            captions_reused=self.meter.captions_reused,
            model_calls=[u.to_dict() for u in self.meter.calls],
            detail=to_jsonable_python(detail), elapsed_s=round(time.monotonic() - self.started, 3),
        )
        return {"trajectory": self.previous + [step]}


def short_text(text: str, limit: int = 100) -> str:
    """A model's text cut for a one-line step message (the whole text stays in the step's detail); a
    reply that only repeats itself shows as "(repetitive model output)"."""
    from vidrecall.tools.llm.degenerate import is_degenerate

    text = " ".join((text or "").split())
    if is_degenerate(text):
        return "(repetitive model output)"
    return text if len(text) <= limit else text[: limit - 1] + "…"


PROGRESS_KEY = "vidrecall_progress"  # the custom stream event's one key; its value is a Progress dict


def report_progress(message: str, done: int | None = None, total: int | None = None, *, node: str | None = None,
                    started: float | None = None) -> None:
    """Send a Progress event to whoever streams the graph with stream_mode "custom"; a no-op elsewhere.
    `node` defaults to the graph node running now."""
    try:
        from langgraph.config import get_config, get_stream_writer

        writer = get_stream_writer()
        node = node or str(get_config().get("metadata", {}).get("langgraph_node", ""))
    except (RuntimeError, ImportError):  # called outside a graph run (a node used directly, a test)
        return
    elapsed = round(time.monotonic() - started, 3) if started is not None else 0.0
    writer({PROGRESS_KEY: Progress(node=node, message=message, done=done, total=total,
                                   elapsed_s=elapsed).model_dump()})


def progress_from_event(chunk: object) -> Progress | None:
    """The Progress a custom stream event carries, or None for anybody else's event."""
    if isinstance(chunk, dict) and isinstance(chunk.get(PROGRESS_KEY), dict):
        return Progress(**chunk[PROGRESS_KEY])
    return None


def graph_progress(event: ProgressEvent) -> None:
    """The progress sink inside a graph run: each event becomes a Progress custom stream event."""
    what = event.task if event.span is None else f"{event.task} ({event.span.label()})"
    total = round(event.total) if event.total is not None else None
    report_progress(what, round(event.done), total)
