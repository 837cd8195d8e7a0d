"""Recording one node's run as a Step: its own model calls and frames via a child cost meter."""
from __future__ import annotations

import time
from typing import Any

from vidrecall.core.result import Step
from vidrecall.agent.state import AgentContext


class StepRecorder:
    """Open at the start of a node; `done(...)` returns the state update that appends the Step."""

    def __init__(self, ctx: AgentContext, state: dict, node: str):
        self.meter = ctx.meter.child()
        self.node = node
        self.index = len(state.get("trajectory") or [])
        self.previous = list(state.get("trajectory") or [])
        self.started = time.monotonic()

    def done(self, message: str, *, spans: list[tuple[float, float]] | None = None, level: str | None = None,
             **detail: Any) -> dict:
        step = Step(
            index=self.index, node=self.node, message=" ".join(message.split()),  # one line for live display
            spans=[(round(s, 2), round(e, 2)) for s, e in (spans or [])], level=level,
            frames_sampled=self.meter.frames_decoded,
            captions_added=sum(self.meter.captions_by_level.values()),
            captions_reused=self.meter.captions_reused,
            model_calls=[u.to_dict() for u in self.meter.calls],
            detail=detail, elapsed_s=round(time.monotonic() - self.started, 3),
        )
        return {"trajectory": self.previous + [step.model_dump(mode="json")]}


def short_text(text: str, limit: int = 100) -> str:
    """A model's text cut for a one-line step message (the whole text stays in the step's detail)."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
