"""Which clips the agent may still zoom into, and how retrieval ranks them for a question.

A unit is a clip of a level that has a finer level below it: every coarse clip, and the clips of a
finer level inside spans already zoomed into. Explored spans are excluded.
"""
from __future__ import annotations

from vidrecall.agent.options import mentioned_times
from vidrecall.agent.spans import Unit, is_explored
from vidrecall.agent.state import AgentContext
from vidrecall.core.types import Span
from vidrecall.indexing.plans import timeline_grid

# A question naming a time ("at 8:04") puts the clips around that time ahead of any similarity score.
MENTIONED_TIME_BONUS = 1.0
# Breadth before depth: a clip one level finer, inside a span already zoomed into, must beat an unexplored
# coarser clip by this much cosine similarity to go first. A finer clip also inherits its parent's score
# through overlap, so without a margin the agent keeps digging where it has already looked (and, with a
# weak LLM, never reaches the minute it has not looked at).
DEPTH_MARGIN = 0.1
# Score every unit from its own captions, not from a global top-k that earlier zooms can crowd out.
MAX_RANKED_NODES = 2000


def unexplored_units(ctx: AgentContext, explored: list[Span], window: list[Span] | None = None) -> list[Unit]:
    levels = ctx.config.levels
    units: list[Unit] = []
    for depth, level in enumerate(levels[:-1]):
        if depth == 0:
            spans = timeline_grid(ctx.memory, ctx.video.id, level.name)
            if window:
                spans = [s for s in spans if any(s.overlap(w) > 0 for w in window)]
        else:
            parents = [e for e in explored if e.duration > level.clip_seconds + 1e-3]
            spans = [s for p in parents for s in timeline_grid(ctx.memory, ctx.video.id, level.name, within=p)]
        units += [Unit(s, level.name) for s in spans if not is_explored(s, explored)]
    return units


def retrieval_ranking(ctx: AgentContext, query: str, question: str, units: list[Unit]) -> tuple[list[Unit], dict]:
    """All units, best first: FAISS similarity of the question to captions overlapping each unit, less
    DEPTH_MARGIN per level below the coarsest, plus a bonus for units containing a time the question names;
    ties (no evidence) keep time order."""
    scores = {u: 0.0 for u in units}
    for node, score in ctx.memory.search(query, ctx.video.id, k=MAX_RANKED_NODES):
        for unit in units:
            if unit.span.overlap(node.span) > 0:
                scores[unit] = max(scores[unit], float(score))
    depth = {level.name: i for i, level in enumerate(ctx.config.levels)}
    for unit in units:
        scores[unit] -= DEPTH_MARGIN * depth.get(unit.level, 0)
    for unit in at_mentioned_times(question, units):
        scores[unit] += MENTIONED_TIME_BONUS
    ranked = sorted(units, key=lambda u: (-scores[u], u.span.start, -u.span.duration))
    return ranked, {f"{u.span.label()}@{u.level}": round(scores[u], 3) for u in ranked[:5]}


def at_mentioned_times(question: str, units: list[Unit]) -> list[Unit]:
    """Units containing a time the question names, finest first (the user said where to look)."""
    times = mentioned_times(question)
    hits = [u for u in units if any(u.span.contains(t) for t in times)]
    return sorted(hits, key=lambda u: (u.span.duration, u.span.start))
