"""Nodes and helpers every strategy shares: what a prompt gets, the memory view, recall, finish, the
captioner instruction, the reason a forced answer gives."""
from __future__ import annotations

from langgraph.runtime import Runtime

from vidrecall.agent.abstention import searched_summary, settle, supported
from vidrecall.agent.budget import spent_budget
from vidrecall.agent.memory_view import MemoryView, load_nodes, question_query, recall_nodes, render_view
from vidrecall.agent.options import parse_options
from vidrecall.agent.state import AgentContext, AgentState, Turn, decided
from vidrecall.agent.steps import StepRecorder, short_text
from vidrecall.agent.verdict import Verdict
from vidrecall.core.types import Span, fmt_time

# The captioner's instruction is the LLM's text; a small model can ramble, and it rides on every caption call.
MAX_INSTRUCTION_CHARS = 300


def prompt_values(ctx: AgentContext, state: AgentState, view: MemoryView) -> dict:
    """What every agent prompt gets: the question, lettered options, the memory, the conversation so far."""
    return {"question": state["question"], "options": [o.label for o in parse_options(state["options"])],
            "memory": view.text, "duration": round(ctx.duration, 1), "duration_label": fmt_time(ctx.duration),
            "history": state["history"], "clip_count": len(view.clips)}


def query_of(state: AgentState) -> str:
    return question_query(state["question"], state["options"])


def current_view(ctx: AgentContext, state: AgentState, **kw) -> MemoryView:
    """The focus nodes rendered for the LLM; over the context budget, the least relevant go first."""
    hits = ctx.memory.search(query_of(state), ctx.video.id, k=3 * ctx.config.retrieval_k)
    return render_view(ctx, load_nodes(ctx, state["focus_ids"]), relevance={node.stored_id: score for node, score in hits},
                       **kw)


def explored_spans(state: AgentState) -> list[Span]:
    return [Span(s, e) for s, e in state["explored"]]


def seconds_label(span: Span) -> str:
    return f"{round(span.start, 1):g}-{round(span.end, 1):g} s"


def captioner_instruction(text: str, fallback: str) -> str:
    """The model's instruction for the captioner, capped; `fallback` when it gave none worth sending."""
    text = " ".join((text or "").split())[:MAX_INSTRUCTION_CHARS]
    return text if len(text) >= 8 else fallback


def stop_reason(ctx: AgentContext, state: AgentState) -> str:
    """Why a forced answer is being given: the recorded stop, else the spent budget."""
    return state["stop"] or spent_budget(ctx.config.budgets, ctx.meter, state["iteration"]) or "no more exploring"


# --- nodes ------------------------------------------------------------------------------------------------
def recall(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "recall")
    nodes, how = recall_nodes(ctx, query_of(state))
    earlier = [n.id for n in load_nodes(ctx, [i for turn in state["history"] for i in turn["focus_ids"]])
               if n.video_id == ctx.video.id]  # a session may move between videos
    ids = list(dict.fromkeys([n.id for n in nodes] + earlier))
    levels = sorted({n.level for n in nodes})
    message = f"recalled {len(nodes)} captions ({how}; levels {', '.join(levels) or 'none'})"
    return {"focus_ids": ids, **rec.done(message, level=ctx.config.levels[0].name, how=how,
                                          node_ids=ids[:200], from_earlier_turns=len(set(earlier)))}


def after_localize(state: AgentState) -> str:
    return "zoom" if state["plan"] else "final"


def finish(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
    """Every strategy's last node: the final verdict, abstaining when nothing the search read backs it
    (agent/abstention.py), recorded as the turn's answer."""
    ctx = runtime.context
    rec = StepRecorder(ctx, state, "finish")
    read = load_nodes(ctx, state["focus_ids"])  # the memory the search read (recalled, zoomed, looked up)
    searched = searched_summary(read, state["explored"], [lv.name for lv in ctx.config.levels], ctx.duration,
                                ctx.config.speech.source)
    verdict = settle(decided(state).model_copy(update={"stop": state["stop"] or "confident"}), state["question"],
                     state["options"], searched, [n.text for n in read], ctx.config.abstain_below)
    turn = Turn(question=state["question"], options=state["options"], answer=verdict.answer,
                confidence=verdict.confidence, focus_ids=list(state["focus_ids"]), explored=list(state["explored"]))
    if verdict.abstained and verdict.option is None:
        message = f"not found in the video (searched {searched.describe()})"
    else:
        guess = "guess " if verdict.abstained and not searched_none(verdict) else ""
        message = (f"{guess}answer: {short_text(verdict.answer) or '—'} (confidence {verdict.confidence:.2f}, "
                   f"by {verdict.decided_by or '?'}")
        message += f"; {verdict.stop})" if verdict.stop != "confident" else ")"
        if verdict.abstained:
            message += " — not found in the video"
    return {"result": verdict, "stop": verdict.stop, "history": [turn],
            **rec.done(message, decided_by=verdict.decided_by, abstained=verdict.abstained,
                       grounded=supported(verdict), searched=searched)}


def searched_none(verdict: Verdict) -> bool:
    return bool(verdict.searched and verdict.searched.none_option)
