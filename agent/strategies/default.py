"""The default strategy: recall → answer → (localize → zoom → answer)* → final → finish.

Order, "when", "how long after" and "how many times" questions are answered by comparing times: the LLM
names where each option or event is, the program compares (agent/locating.py, agent/timeline.py).

Improvements over the original loop: retrieval when the memory does not fit the context, graded
confidence checked against the evidence (agent/judge.py), several spans per round (the model's picks
interleaved with retrieval's), spans snapped to real clips, and a forced answer the last iteration falls into.
"""
from __future__ import annotations

from langgraph.graph import END, START
from langgraph.runtime import Runtime

from vidrecall.agent.asking import decide
from vidrecall.agent.budget import spent_budget
from vidrecall.agent.candidates import at_mentioned_times, retrieval_ranking, unexplored_units
from vidrecall.agent.decisions import AnswerDecision, FinalDecision, LocalizeDecision
from vidrecall.agent.judge import JudgeSettings, LlmClaim, cited_spans, judge
from vidrecall.agent.locating import Located, locate_and_compare
from vidrecall.agent.options import parse_options
from vidrecall.agent.spans import interleave, snap_all
from vidrecall.agent.state import AgentContext, AgentState, ZoomTarget, decided
from vidrecall.agent.steps import StepRecorder, short_text
from vidrecall.agent.strategies.base import Strategy
from vidrecall.agent.time_questions import TimeQuestion, time_question
from vidrecall.agent.strategies.common import (after_localize, captioner_instruction, current_view, explored_spans,
                                               finish, prompt_values, query_of, recall, seconds_label, stop_reason)
from vidrecall.agent.zoom import make_zoom


def answer(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "answer")
    view = current_view(ctx, state)
    kind = time_question(state["question"], parse_options(state["options"]))
    if kind is not None:
        located = locate_and_compare(ctx, state, view, kind, meter=rec.meter, forced=False)
        if located.verdict is not None:
            return _timed_step(rec, located, kind)
    got = decide(ctx, "answer", AnswerDecision, meter=rec.meter, **prompt_values(ctx, state, view))
    d: AnswerDecision = got.value
    claim = LlmClaim(d.answer, d.confidence, cited_spans(view, d.clips, d.spans, ctx.duration), d.reason, got.ok,
                     quote=d.evidence)
    verdict = judge(state["question"], state["options"], claim, view, ctx.embedder, forced=False,
                    settings=JudgeSettings.of(ctx.config))
    # What the agent concluded and how; the model's own words stay in the detail (llm_answer), not the line.
    if state["options"] and verdict.option is None:  # the model named none of the options
        message = f"no option chosen yet (confidence {verdict.confidence:.2f}, by {verdict.decided_by})"
    else:
        message = f"answer {short_text(verdict.answer) or '—'} at confidence {verdict.confidence:.2f} (by {verdict.decided_by})"
    if got.out_of_time:
        message += "; the time budget ran out before the model replied"
    elif not got.ok:
        message += f"; malformed model output after {got.attempts} attempts"
    return {"decision": verdict, **rec.done(message, spans=[(e.start, e.end) for e in verdict.evidence_spans],
                                           decision=verdict, parsed=got.ok, attempts=got.attempts,
                                           llm_answer=d.answer, llm_confidence=d.confidence)}


def _timed_step(rec: StepRecorder, located: Located, kind: TimeQuestion, lead: str = "answer", **extra) -> dict:
    """The step of an answer a time comparison gave: which option, from which times, and how sure."""
    verdict = located.verdict
    assert verdict is not None, "called only when the times were compared"
    message = (f"{lead} {short_text(verdict.answer)} at confidence {verdict.confidence:.2f} (by comparing times: "
               f"{verdict.reason}{'' if verdict.grounded else '; not every time is backed by a text naming it'})")
    cited = {key: [(s.start, s.end) for s in spans] for key, spans in located.cited.items()}
    return {"decision": verdict, **extra,
            **rec.done(message, spans=[(e.start, e.end) for e in verdict.evidence_spans], decision=verdict,
                       time_question=kind.value, located=cited, parsed=located.parsed, attempts=located.attempts)}


def after_answer(state: AgentState, runtime: Runtime[AgentContext]) -> str:
    ctx = runtime.context
    if decided(state).confidence >= ctx.config.confidence_threshold:
        return "finish"
    if spent_budget(ctx.config.budgets, ctx.meter, state["iteration"]):
        return "final"
    return "localize"


def localize(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "localize")
    explored = explored_spans(state)
    units = unexplored_units(ctx, explored)
    if not units:
        return {"plan": [], "stop": "nothing left to explore", **rec.done("nothing left to explore")}
    view = current_view(ctx, state)
    got = decide(ctx, "localize", LocalizeDecision, meter=rec.meter, k=ctx.config.spans_per_round,
                 explored=[seconds_label(s) for s in explored], **prompt_values(ctx, state, view))
    d: LocalizeDecision = got.value
    raws = [(s.start, s.end) for s in (view.clip_span(c) for c in d.clips) if s is not None]
    bad_clips = [c for c in d.clips if view.clip_span(c) is None]
    snapped = snap_all(raws + list(d.spans), units, ctx.duration)
    ranked, top_scores = retrieval_ranking(ctx, query_of(state), state["question"], units)
    # A time the question names comes first; then the model's picks alternate with retrieval's.
    pinned = at_mentioned_times(state["question"], units)
    picks = list(dict.fromkeys(pinned + interleave(snapped.kept, ranked)))[: ctx.config.spans_per_round]
    options = "; ".join(o.text for o in parse_options(state["options"]))
    instruction = captioner_instruction(d.instruction, f"Look for anything that answers: {state['question']}"
                                        + (f" (candidates: {options})" if options else ""))
    targets = [ZoomTarget(start=u.span.start, end=u.span.end, level=u.level, instruction=instruction,
                          source="question time" if u in pinned else "llm" if u in snapped.kept else "retrieval")
               for u in picks]
    message = "look closer at " + ", ".join(f"{t.level} {t.span.label()} ({t.source})" for t in targets)
    dropped = snapped.dropped + [{"clip": c, "why": "no such clip number"} for c in bad_clips]
    # Spans the model got wrong stay in the step's detail ("dropped"); the live line is about where we look.
    return {"plan": targets, **rec.done(message, spans=[(t.start, t.end) for t in targets],
                                        level=targets[0].level if targets else None, plan=targets, dropped=dropped,
                                        retrieval_top=top_scores, parsed=got.ok, llm_instruction=d.instruction)}


def final(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "final")
    reason = stop_reason(ctx, state)
    view = current_view(ctx, state)
    kind = time_question(state["question"], parse_options(state["options"]))
    if kind is not None:
        located = locate_and_compare(ctx, state, view, kind, meter=rec.meter, forced=True)
        if located.verdict is not None:
            return _timed_step(rec, located, kind, lead=f"{reason}: forced answer", stop=reason)
    got = decide(ctx, "final_answer", FinalDecision, meter=rec.meter, **prompt_values(ctx, state, view))
    d: FinalDecision = got.value
    earlier = decided(state).llm.confidence
    claim = LlmClaim(d.answer, earlier, cited_spans(view, d.clips, d.spans, ctx.duration), d.reason, got.ok,
                     quote=d.evidence)
    verdict = judge(state["question"], state["options"], claim, view, ctx.embedder, forced=True,
                    settings=JudgeSettings.of(ctx.config))
    message = f"{reason}: forced answer {short_text(verdict.answer) or '—'} (by {verdict.decided_by})"
    return {"decision": verdict, "stop": reason, **rec.done(message, decision=verdict, parsed=got.ok)}


STRATEGY = Strategy(
    name="default",
    summary="retrieval, graded confidence checked against the evidence, several spans per round",
    nodes={"recall": recall, "answer": answer, "localize": localize, "zoom": make_zoom(instruct_children=False),
           "final": final, "finish": finish},
    edges=((START, "recall"), ("recall", "answer"), ("zoom", "answer"), ("final", "finish"), ("finish", END)),
    branches={"answer": (after_answer, ("finish", "localize", "final")),
              "localize": (after_localize, ("zoom", "final"))},
)
