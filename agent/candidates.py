"""Which clips the agent may still zoom into, and how retrieval ranks them for a question.

A unit is a clip of a level that has a finer level below it: every coarse clip, and the clips of a
finer level inside spans already zoomed into. Explored spans are excluded.
"""
from __future__ import annotations

from vidrecall.agent.options import mentioned_times
from vidrecall.agent.spans import Unit, is_explored
from vidrecall.agent.state import AgentContext
from vidrecall.types import Span

# A question naming a time ("at 8:04") puts the clips around that time ahead of any similarity score.
MENTIONED_TIME_BONUS = 1.0


def unexplored_units(ctx: AgentContext, explored: list[Span], window: list[Span] | None = None) -> list[Unit]:
    levels = ctx.config.levels
    units: list[Unit] = []
    for depth, level in enumerate(levels[:-1]):
        if depth == 0:
            spans = ctx.memory.level_spans(ctx.video, level.name)
            if window:
                spans = [s for s in spans if any(s.overlap(w) > 0 for w in window)]
        else:
            parents = [e for e in explored if e.duration > level.clip_seconds + 1e-3]
            spans = [s for p in parents for s in ctx.memory.level_spans(ctx.video, level.name, within=p)]
        units += [Unit(s, level.name) for s in spans if not is_explored(s, explored)]
    return units


def retrieval_ranking(ctx: AgentContext, query: str, question: str, units: list[Unit]) -> tuple[list[Unit], dict]:
    """All units, best first: FAISS similarity of the question to captions overlapping each unit, plus a
    bonus for units containing a time the question names; ties (no evidence) keep time order."""
    scores = {u: 0.0 for u in units}
    hits = ctx.memory.search(query, ctx.video.id, k=max(20, 3 * ctx.config.retrieval_k))
    for node, score in hits:
        for unit in units:
            if unit.span.overlap(node.span) > 0:
                scores[unit] = max(scores[unit], float(score))
    for unit in at_mentioned_times(question, units):
        scores[unit] += MENTIONED_TIME_BONUS
    ranked = sorted(units, key=lambda u: (-scores[u], u.span.start, -u.span.duration))
    return ranked, {f"{u.span.label()}@{u.level}": round(scores[u], 3) for u in ranked[:5]}


def at_mentioned_times(question: str, units: list[Unit]) -> list[Unit]:
    """Units containing a time the question names, finest first (the user said where to look)."""
    times = mentioned_times(question)
    hits = [u for u in units if any(u.span.contains(t) for t in times)]
    return sorted(hits, key=lambda u: (u.span.duration, u.span.start))
