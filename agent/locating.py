"""The LLM half of a time question: one `locate` call naming the clips that hold each option (or the event),
then the program's comparison (agent/timeline.py). Used by the default strategy's answer and final nodes."""
from __future__ import annotations

from dataclasses import dataclass

from vidrecall.agent.asking import decide
from vidrecall.agent.decisions import EventPlaces, TwoEventPlaces, option_places_schema
from vidrecall.agent.judge import cited_spans
from vidrecall.agent.memory_view import MemoryView
from vidrecall.agent.options import parse_options
from vidrecall.agent.state import AgentContext, AgentState
from vidrecall.agent.strategies.common import prompt_values
from vidrecall.agent.time_questions import TimeQuestion
from vidrecall.agent.timeline import timed_verdict
from vidrecall.agent.verdict import Verdict
from vidrecall.core.accounting import CostMeter
from vidrecall.core.types import Span


@dataclass
class Located:
    verdict: Verdict | None  # None: nothing could be placed, so nothing was compared
    cited: dict[str, list[Span]]  # what the LLM named for each option letter or event
    parsed: bool
    attempts: int


def locate_and_compare(ctx: AgentContext, state: AgentState, view: MemoryView, kind: TimeQuestion, *,
                       meter: CostMeter, forced: bool) -> Located:
    options = parse_options(state["options"])
    values = prompt_values(ctx, state, view)
    if kind.orders_options:
        schema = option_places_schema([o.letter for o in options])
        got = decide(ctx, "locate", schema, meter=meter, target="options", **values)
        places = got.value.model_dump()
        cited = {o.letter: cited_spans(view, places[o.letter], [], ctx.duration) for o in options}
    elif kind is TimeQuestion.HOW_LONG_AFTER:
        got = decide(ctx, "locate", TwoEventPlaces, meter=meter, target="two_events", **values)
        cited = {"earlier": cited_spans(view, got.value.earlier_clips, [], ctx.duration),
                 "later": cited_spans(view, got.value.later_clips, [], ctx.duration)}
    else:
        got = decide(ctx, "locate", EventPlaces, meter=meter, target="event", **values)
        cited = {"event": cited_spans(view, got.value.clips, got.value.spans, ctx.duration)}
    verdict = timed_verdict(kind, state["question"], options, view, ctx.duration, cited, forced=forced)
    return Located(verdict, cited, got.ok, got.attempts)
