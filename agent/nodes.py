"""The default strategy's nodes: recall → answer → (localize → zoom → answer)* → final → finish.

Improvements over the original loop: retrieval when the memory does not fit the context, graded
confidence checked against the evidence, several spans per round (the model's picks interleaved with
retrieval's), spans snapped to real clips, and a forced answer the last iteration falls into.
"""
from __future__ import annotations

from langgraph.runtime import Runtime

from vidrecall.agent.asking import decide
from vidrecall.agent.budget import spent_budget
from vidrecall.agent.candidates import at_mentioned_times, retrieval_ranking, unexplored_units
from vidrecall.agent.decisions import AnswerDecision, FinalDecision, LocalizeDecision
from vidrecall.agent.judge import LlmClaim, cited_spans, judge
from vidrecall.agent.memory_view import MemoryView, load_nodes, question_query, recall_nodes, render_view
from vidrecall.agent.options import parse_options
from vidrecall.agent.spans import interleave, snap_all
from vidrecall.agent.state import AgentContext
from vidrecall.agent.steps import StepRecorder, short_text
from vidrecall.core.types import Span, fmt_time

MAX_INSTRUCTION_CHARS = 300


def prompt_values(ctx: AgentContext, state: dict, view: MemoryView) -> dict:
    """What every agent prompt gets: the question, lettered options, the memory, the conversation so far."""
    return {"question": state["question"], "options": [o.label for o in parse_options(state.get("options"))],
            "memory": view.text, "duration": round(ctx.duration, 1), "duration_label": fmt_time(ctx.duration),
            "history": state.get("history") or [], "clip_count": len(view.clips)}


def current_view(ctx: AgentContext, state: dict, **kw) -> MemoryView:
    """The focus nodes rendered for the LLM; over the context budget, the least relevant go first."""
    query = question_query(state["question"], state.get("options") or [])
    hits = ctx.memory.search(query, ctx.video.id, k=3 * ctx.config.retrieval_k)
    return render_view(ctx, load_nodes(ctx, state.get("focus_ids") or []),
                       relevance={node.id: score for node, score in hits}, **kw)


# --- recall -------------------------------------------------------------------------------------------
def recall(state: dict, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "recall")
    nodes, how = recall_nodes(ctx, question_query(state["question"], state.get("options") or []))
    earlier = [n.id for n in load_nodes(ctx, [i for t in state.get("history") or [] for i in t.get("focus_ids", [])])
               if n.video_id == ctx.video.id]  # a session may move between videos
    ids = list(dict.fromkeys([n.id for n in nodes] + earlier))
    levels = sorted({n.level for n in nodes})
    message = f"recalled {len(nodes)} captions ({how}; levels {', '.join(levels) or 'none'})"
    return {"focus_ids": ids, **rec.done(message, level=ctx.config.levels[0].name, how=how,
                                          node_ids=ids[:200], from_earlier_turns=len(set(earlier)))}


# --- answer -------------------------------------------------------------------------------------------
def answer(state: dict, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "answer")
    view = current_view(ctx, state)
    got = decide(ctx, "answer", AnswerDecision, meter=rec.meter, **prompt_values(ctx, state, view))
    d: AnswerDecision = got.value
    claim = LlmClaim(d.answer, d.confidence, cited_spans(view, d.clips, d.spans, ctx.duration), d.reason, got.ok)
    decision = judge(state["question"], state.get("options") or [], claim, view, ctx.embedder, forced=False)
    message = (f"answer {short_text(decision['answer']) or '—'} at confidence {decision['confidence']:.2f} "
               f"(by {decision['decided_by']}; LLM said {short_text(d.answer) or 'nothing usable'!r} {d.confidence:.2f})")
    if not got.ok:
        message += f"; malformed model output after {got.attempts} attempts"
    return {"decision": decision, **rec.done(message, spans=[(e["start"], e["end"]) for e in decision["evidence_spans"]],
                                            decision=decision, parsed=got.ok, attempts=got.attempts)}


def after_answer(state: dict, runtime: Runtime[AgentContext]) -> str:
    ctx = runtime.context
    if (state.get("decision") or {}).get("confidence", 0.0) >= ctx.config.confidence_threshold:
        return "finish"
    if spent_budget(ctx.config.budgets, ctx.meter, int(state.get("iteration") or 0)):
        return "final"
    return "localize"


# --- localize -----------------------------------------------------------------------------------------
def localize(state: dict, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "localize")
    explored = [Span(s, e) for s, e in state.get("explored") or []]
    units = unexplored_units(ctx, explored)
    if not units:
        return {"plan": [], "stop": "nothing left to explore", **rec.done("nothing left to explore")}
    view = current_view(ctx, state)
    got = decide(ctx, "localize", LocalizeDecision, meter=rec.meter, k=ctx.config.spans_per_round,
                 explored=[_seconds_label(s) for s in explored], **prompt_values(ctx, state, view))
    d: LocalizeDecision = got.value
    raws = [(s.start, s.end) for s in (view.clip_span(c) for c in d.clips) if s is not None]
    bad_clips = [c for c in d.clips if view.clip_span(c) is None]
    snapped = snap_all(raws + list(d.spans), units, ctx.duration)
    ranked, top_scores = retrieval_ranking(ctx, question_query(state["question"], state.get("options") or []),
                                           state["question"], units)
    # A time the question names comes first; then the model's picks alternate with retrieval's.
    pinned = at_mentioned_times(state["question"], units)
    picks = list(dict.fromkeys(pinned + interleave(snapped.kept, ranked)))[: ctx.config.spans_per_round]
    instruction = _instruction(d.instruction, state)
    plan = [{"start": u.span.start, "end": u.span.end, "level": u.level, "instruction": instruction,
             "source": "question time" if u in pinned else "llm" if u in snapped.kept else "retrieval"}
            for u in picks]
    labels = ", ".join(f"{p['level']} {Span(p['start'], p['end']).label()} ({p['source']})" for p in plan)
    message = f"look closer at {labels}"
    dropped = snapped.dropped + [{"clip": c, "why": "no such clip number"} for c in bad_clips]
    if dropped:
        message += f"; dropped {len(dropped)} unusable span(s) from the model"
    return {"plan": plan, **rec.done(message, spans=[(p["start"], p["end"]) for p in plan],
                                     level=plan[0]["level"] if plan else None, plan=plan, dropped=dropped,
                                     retrieval_top=top_scores, parsed=got.ok, llm_instruction=d.instruction)}


def after_localize(state: dict) -> str:
    return "zoom" if state.get("plan") else "final"


def _instruction(text: str, state: dict) -> str:
    """The model's instruction for the captioner, or one derived from the question when it gave none."""
    text = " ".join((text or "").split())[:MAX_INSTRUCTION_CHARS]
    if len(text) >= 8:
        return text
    options = "; ".join(o.text for o in parse_options(state.get("options")))
    return f"Look for anything that answers: {state['question']}" + (f" (candidates: {options})" if options else "")


# --- final (forced) and finish ------------------------------------------------------------------------
def final(state: dict, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "final")
    reason = state.get("stop") or spent_budget(ctx.config.budgets, ctx.meter, int(state.get("iteration") or 0)) \
        or "no more exploring"
    view = current_view(ctx, state)
    got = decide(ctx, "final_answer", FinalDecision, meter=rec.meter, **prompt_values(ctx, state, view))
    d: FinalDecision = got.value
    llm_conf = float((state.get("decision") or {}).get("llm", {}).get("confidence", 0.0))
    claim = LlmClaim(d.answer, llm_conf, cited_spans(view, d.clips, d.spans, ctx.duration), d.reason, got.ok)
    decision = judge(state["question"], state.get("options") or [], claim, view, ctx.embedder, forced=True)
    message = f"{reason}: forced answer {short_text(decision['answer']) or '—'} (by {decision['decided_by']})"
    return {"decision": decision, "stop": reason, **rec.done(message, decision=decision, parsed=got.ok)}


def finish(state: dict, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "finish")
    d = dict(state.get("decision") or {})
    stop = state.get("stop") or "confident"
    result = {**d, "stop": stop, "forced": bool(d.get("forced"))}
    turn = {"question": state["question"], "options": state.get("options") or [],
            "answer": d.get("answer", ""), "confidence": d.get("confidence", 0.0),
            "focus_ids": list(state.get("focus_ids") or []), "explored": list(state.get("explored") or [])}
    message = f"answer: {short_text(d.get('answer', '')) or '—'} (confidence {d.get('confidence', 0.0):.2f}, by {d.get('decided_by', '?')}"
    message += f"; {stop})" if stop != "confident" else ")"
    return {"result": result, "stop": stop, "history": [turn], **rec.done(message, decided_by=d.get("decided_by"))}



def _seconds_label(span: Span) -> str:
    return f"{round(span.start, 1):g}-{round(span.end, 1):g} s"
