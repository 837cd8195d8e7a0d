"""The zoom node: re-caption each chosen span one level finer, as a whole ("entire") and clip by clip
("divided"), storing every caption in the memory (SQLite + FAISS) where later questions reuse it.

The divided clips are captioned without the question's instruction when the strategy allows
(`instruct_children=False`), so their cache keys do not depend on the question and any later question
that zooms there reuses them; the entire-span caption carries the instruction.
"""
from __future__ import annotations

from langgraph.runtime import Runtime

from vidrecall.agent.budget import captions_left
from vidrecall.agent.state import AgentContext
from vidrecall.agent.steps import StepRecorder
from vidrecall.core.types import Span


def make_zoom(*, instruct_children: bool):
    def zoom(state: dict, runtime: Runtime[AgentContext]) -> dict:
        ctx = runtime.context
        rec = StepRecorder(ctx, state, "zoom")
        focus, explored = list(state.get("focus_ids") or []), list(state.get("explored") or [])
        zoomed, notes = [], []
        for item in state.get("plan") or []:
            span, finer = Span(item["start"], item["end"]), ctx.config.finer(item["level"])
            if finer is None:
                notes.append(f"{span.label()} is already at the finest level")
                continue
            parent = _node_at(ctx, item["level"], span)
            requests = [(span, item["instruction"] or None)]
            children = ctx.memory.level_spans(ctx.video, finer.name, within=span)
            if not (len(children) == 1 and children[0].same_as(span, 0.5)):
                requests += [(child, item["instruction"] if instruct_children else None) for child in children]
            for target, instruction in requests:
                if captions_left(ctx.config.budgets, ctx.meter) <= 0:
                    notes.append("caption budget reached mid-zoom")
                    break
                node, _created = ctx.memory.caption(ctx.video, finer.name, target, instruction=instruction,
                                                    parent_id=parent.id if parent else None, meter=rec.meter)
                focus.append(node.id)
            explored.append([span.start, span.end])
            zoomed.append((span.start, span.end))
        made, reused = sum(rec.meter.captions_by_level.values()), rec.meter.captions_reused
        labels = ", ".join(Span(s, e).label() for s, e in zoomed) or "nothing"
        message = f"zoomed into {labels}: {made} new captions, {reused} reused, {rec.meter.frames_decoded} frames"
        finer_names = sorted({f.name for f in (ctx.config.finer(p["level"]) for p in state.get("plan") or []) if f})
        update = {"focus_ids": list(dict.fromkeys(focus)), "explored": explored,
                  "iteration": int(state.get("iteration") or 0) + 1, "plan": []}
        return {**update, **rec.done(message, spans=zoomed, level=",".join(finer_names) or None, notes=notes)}

    return zoom


def _node_at(ctx: AgentContext, level: str, span: Span):
    for node in ctx.memory.nodes(ctx.video.id, level=level, window=span):
        if node.span.same_as(span, 0.5) and not node.instruction:
            return node
    return None
