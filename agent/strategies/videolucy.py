"""The faithful VideoLucy loop (Zplusdragon/VideoLucy `demo_infer`), on our memory and backbones.

coarse answer (boolean confidence) → unless the question has an ordinal word, a "can two periods
answer this?" filter that keeps those clips ±1 neighbour → up to `budgets.max_iterations` rounds of
[localize one period + write an instruction → caption it entire + divided, both instructed → answer]
→ a forced answer over the unfiltered coarse memory plus everything gathered.

Kept from the original: prompts' intent and JSON keys, boolean confidence, one span per round, the
localizer not seeing ultra-fine memory. Fixed: periods snap to real clips (no exact float matching),
bad model output is retried and then falls back (to retrieval for localization) instead of crashing.
The evidence vote follows the profile's `evidence_role`; the videolucy profile turns it off, as the
original has none.
"""
from __future__ import annotations

from langgraph.graph import END, START
from langgraph.runtime import Runtime

from vidrecall.agent.asking import decide
from vidrecall.agent.budget import spent_budget
from vidrecall.agent.candidates import retrieval_ranking, unexplored_units
from vidrecall.agent.decisions import LucyAnswer, LucyFilter, LucyFinal, LucyLocalize
from vidrecall.agent.judge import JudgeSettings, LlmClaim, cited_spans, judge
from vidrecall.agent.memory_view import load_nodes, recall_nodes, render_view
from vidrecall.agent.options import has_ordinal
from vidrecall.agent.spans import Unit, snap_all
from vidrecall.agent.state import AgentContext, AgentState, ZoomTarget, decided
from vidrecall.agent.steps import StepRecorder, short_text
from vidrecall.agent.strategies.base import Strategy
from vidrecall.agent.strategies.common import (after_localize, captioner_instruction, current_view, explored_spans,
                                               finish, prompt_values, query_of, recall, seconds_label, stop_reason)
from vidrecall.agent.zoom import make_zoom
from vidrecall.core.types import Span
from vidrecall.indexing.plans import timeline_grid


def _settings(ctx: AgentContext) -> JudgeSettings:
    # Confidence is the original's boolean, set below; the LLM's number never reaches the judge.
    return JudgeSettings(ctx.config.evidence_role, llm_confidence_weight=1.0)


def lucy_answer(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "answer")
    view = current_view(ctx, state)
    coarse_only = not state["explored"]
    got = decide(ctx, "videolucy_answer", LucyAnswer, meter=rec.meter, coarse_only=coarse_only,
                 **prompt_values(ctx, state, view))
    d: LucyAnswer = got.value
    claim = LlmClaim(d.answer, 1.0 if d.confidence else 0.0, cited_spans(view, [], d.time_period, ctx.duration),
                     d.reason, got.ok)
    verdict = judge(state["question"], state["options"], claim, view, ctx.embedder, forced=False,
                    settings=_settings(ctx))
    # Boolean confidence, as in the original; "True" with no usable answer is not an answer. A deciding
    # evidence vote (evidence_role "decide") is confident on its own.
    answered = verdict.option is not None if state["options"] else d.answer.lower() not in ("", "no answer")
    by_evidence = verdict.decided_by in ("evidence", "llm+evidence")
    verdict.confidence = 1.0 if ((d.confidence and answered) or by_evidence) else 0.0
    # What the agent concluded and how; the model's own words stay in the detail (llm_answer), not the line.
    lead = f"{'coarse ' if coarse_only else ''}answer"
    if answered or by_evidence:
        sure = "confident" if verdict.confidence >= 1.0 else "not confident"
        message = f"{lead} {short_text(verdict.answer) or '—'}: {sure} (by {verdict.decided_by})"
    else:
        message = f"{lead}: none yet (not confident)"
    if got.out_of_time:
        message += "; the time budget ran out before the model replied"
    elif not got.ok:
        message += f"; malformed model output after {got.attempts} attempts"
    return {"decision": verdict, **rec.done(message, spans=list(d.time_period), decision=verdict, parsed=got.ok,
                                           llm_answer=d.answer, llm_confident=d.confidence)}


def lucy_after_answer(state: AgentState, runtime: Runtime[AgentContext]) -> str:
    ctx = runtime.context
    if decided(state).confidence >= 1.0:
        return "finish"
    if not state["filtered"]:
        return "filter"
    if spent_budget(ctx.config.budgets, ctx.meter, state["iteration"]):
        return "final"
    return "localize"


def lucy_filter(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "filter")
    if has_ordinal(state["question"]):
        return {"filtered": True,
                **rec.done("ordinal word in the question: keeping the whole coarse memory", ordinal=True)}
    view = current_view(ctx, state)
    got = decide(ctx, "videolucy_filter", LucyFilter, meter=rec.meter, **prompt_values(ctx, state, view))
    d: LucyFilter = got.value
    coarse = ctx.config.levels[0].name
    clips = timeline_grid(ctx.memory, ctx.video.id, coarse)
    snapped = snap_all(list(d.time_periods)[:2], [Unit(c, coarse) for c in clips], ctx.duration)
    if not (d.flag and snapped.kept):
        why = "the model says two periods cannot answer it" if not d.flag else "its periods match no clip"
        return {"filtered": True, **rec.done(f"no filter ({why}): keeping the whole coarse memory", flag=d.flag,
                                             dropped=snapped.dropped)}
    keep: set[int] = set()
    for unit in snapped.kept[:2]:
        i = next(i for i, c in enumerate(clips) if c.same_as(unit.span, 0.5))
        keep.update(j for j in (i - 1, i, i + 1) if 0 <= j < len(clips))
    window = [clips[i] for i in sorted(keep)]
    nodes, _ = recall_nodes(ctx, query_of(state), window)
    message = f"filtered the coarse memory to {len(window)} clips around {', '.join(u.span.label() for u in snapped.kept[:2])}"
    return {"window": [[w.start, w.end] for w in window], "focus_ids": [n.id for n in nodes], "filtered": True,
            **rec.done(message, spans=[(w.start, w.end) for w in window], flag=True, dropped=snapped.dropped)}


def lucy_localize(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "localize")
    explored = explored_spans(state)
    window = [Span(s, e) for s, e in state["window"]]
    units = unexplored_units(ctx, explored, window or None)
    if not units:
        return {"plan": [], "stop": "nothing left to explore", **rec.done("nothing left to explore")}
    view = current_view(ctx, state, max_depth=1)  # the original's localizer never sees ultra-fine memory
    got = decide(ctx, "videolucy_localize", LucyLocalize, meter=rec.meter,
                 explored=[seconds_label(s) for s in explored], **prompt_values(ctx, state, view))
    d: LucyLocalize = got.value
    snapped = snap_all(list(d.time_period)[:1], units, ctx.duration)
    if snapped.kept:
        unit, source = snapped.kept[0], "llm"
    else:
        ranked, _ = retrieval_ranking(ctx, query_of(state), state["question"], units)
        unit, source = ranked[0], "retrieval fallback"
    instruction = captioner_instruction(d.instruction, f"Describe everything relevant to: {state['question']}")
    target = ZoomTarget(start=unit.span.start, end=unit.span.end, level=unit.level, instruction=instruction,
                        source=source)
    message = f"look closer at {unit.level} {unit.span.label()} ({source})"
    return {"plan": [target], **rec.done(message, spans=[(unit.span.start, unit.span.end)], level=unit.level,
                                         plan=[target], dropped=snapped.dropped, parsed=got.ok)}


def lucy_final(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "final")
    reason = stop_reason(ctx, state)
    # The forced answer reads the unfiltered coarse memory plus everything gathered.
    coarse = ctx.memory.nodes(ctx.video.id, level=ctx.config.levels[0].name)
    view = render_view(ctx, coarse + load_nodes(ctx, state["focus_ids"]))
    got = decide(ctx, "videolucy_final", LucyFinal, meter=rec.meter, **prompt_values(ctx, state, view))
    d: LucyFinal = got.value
    claim = LlmClaim(d.answer, 0.0, cited_spans(view, [], d.time_period, ctx.duration), d.reason, got.ok)
    verdict = judge(state["question"], state["options"], claim, view, ctx.embedder, forced=True,
                    settings=_settings(ctx))
    message = f"{reason}: forced answer {short_text(verdict.answer) or '—'} (by {verdict.decided_by})"
    return {"decision": verdict, "stop": reason, **rec.done(message, decision=verdict, parsed=got.ok)}


STRATEGY = Strategy(
    name="videolucy",
    summary="the original VideoLucy loop: boolean confidence, two-period filter, one span per round",
    nodes={"recall": recall, "answer": lucy_answer, "filter": lucy_filter, "localize": lucy_localize,
           "zoom": make_zoom(instruct_children=True), "final": lucy_final, "finish": finish},
    edges=((START, "recall"), ("recall", "answer"), ("filter", "localize"), ("zoom", "answer"),
           ("final", "finish"), ("finish", END)),
    branches={"answer": (lucy_after_answer, ("finish", "filter", "localize", "final")),
              "localize": (after_localize, ("zoom", "final"))},
)
