"""The zoom node: re-caption each chosen span one level finer, as a whole ("entire") and clip by clip
("divided"), storing every caption in the memory (SQLite + FAISS) where later questions reuse it.

The divided clips are captioned without the question's instruction when the strategy allows
(`instruct_children=False`), so their cache keys do not depend on the question and any later question
that zooms there reuses them; the entire-span caption carries the instruction.
"""
from __future__ import annotations

from langgraph.runtime import Runtime

from vidrecall.agent.budget import captions_left
from vidrecall.agent.state import AgentContext, AgentState
from vidrecall.agent.steps import StepRecorder
from vidrecall.core.types import SPEECH_LEVEL, Span
from vidrecall.indexing.plans import timeline_grid


def make_zoom(*, instruct_children: bool):
    def zoom(state: AgentState, runtime: Runtime[AgentContext]) -> dict:
        ctx = runtime.context
        rec = StepRecorder(ctx, state, "zoom")
        focus, explored = list(state["focus_ids"]), list(state["explored"])
        zoomed, notes = [], []
        targets = state["plan"]
        for target_plan in targets:
            span, finer = target_plan.span, ctx.config.finer(target_plan.level)
            if finer is None:
                notes.append(f"{span.label()} is already at the finest level")
                continue
            parent = _node_at(ctx, target_plan.level, span)
            requests = [(span, target_plan.instruction or None)]
            children = timeline_grid(ctx.memory, ctx.video.id, finer.name, within=span)
            if not (len(children) == 1 and children[0].same_as(span, 0.5)):
                requests += [(child, target_plan.instruction if instruct_children else None) for child in children]
            for number, (target, instruction) in enumerate(requests, 1):
                if captions_left(ctx.config.budgets, ctx.meter) <= 0:
                    notes.append("caption budget reached mid-zoom")
                    break
                rec.progress(f"captioning {number}/{len(requests)} of {span.label()} ({finer.name} {target.label()})",
                             number - 1, len(requests))
                node, _created = ctx.indexer.caption(ctx.memory, ctx.video.id, finer.name, target, instruction=instruction,
                                                     parent_id=parent.id if parent else None,
                                                     run=ctx.run.with_meter(rec.meter))
                focus.append(node.stored_id)
            if ctx.config.speech.source != "off":  # the span's exact words come with its captions
                focus += [n.stored_id for n in ctx.memory.nodes(ctx.video.id, SPEECH_LEVEL, span)]
            explored.append([span.start, span.end])
            zoomed.append((span.start, span.end))
        made, reused = sum(rec.meter.captions_by_level.values()), rec.meter.captions_reused
        labels = ", ".join(Span(s, e).label() for s, e in zoomed) or "nothing"
        message = f"zoomed into {labels}: {made} new captions, {reused} reused, {rec.meter.frames_decoded} frames"
        finer_names = sorted({f.name for f in (ctx.config.finer(t.level) for t in targets) if f})
        update = {"focus_ids": list(dict.fromkeys(focus)), "explored": explored,
                  "iteration": state["iteration"] + 1, "plan": []}
        return {**update, **rec.done(message, spans=zoomed, level=",".join(finer_names) or None, notes=notes)}

    return zoom


def _node_at(ctx: AgentContext, level: str, span: Span):
    for node in ctx.memory.nodes(ctx.video.id, level=level, window=span):
        if node.span.same_as(span, 0.5) and not node.instruction:
            return node
    return None
