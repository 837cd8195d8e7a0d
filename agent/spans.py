"""Turning what a model says about time into spans the memory really has.

A model names clips by their number in the rendered memory, or by times it may round, shift or invent.
Nothing is matched with float equality: a named span snaps to the unexplored clip it overlaps best
(IoU first, then coverage), and a span outside the video or over explored ground is dropped with a
reason that the trajectory records.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from vidrecall.core.types import Span

# Two spans within this many seconds at both ends are the same clip (LLMs round times).
SAME_SPAN_TOLERANCE_S = 0.5
GOOD_IOU = 0.5


@dataclass(frozen=True)
class Unit:
    """A clip the agent may zoom into: its span and the memory level it was captioned at."""

    span: Span
    level: str

    def key(self) -> tuple[float, float, str]:
        return (round(self.span.start, 1), round(self.span.end, 1), self.level)


@dataclass
class SnapResult:
    kept: list[Unit] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)  # {"span": [s, e], "why": "..."}


def is_explored(span: Span, explored: list[Span]) -> bool:
    return any(span.same_as(e, SAME_SPAN_TOLERANCE_S) for e in explored)


def snap_span(raw: tuple[float, float], units: list[Unit], duration: float) -> tuple[list[Unit], str | None]:
    """The unexplored units a model's (start, end) most plausibly means, best first; or a reason for none."""
    start, end = sorted((float(raw[0]), float(raw[1])))
    if end <= 0 or start >= duration:
        return [], f"outside the video (0-{duration:.1f} s)"
    if end - start < 1e-6:  # a single instant: the clip that contains it
        end = start + 1e-3
    try:
        span = Span(start, end).clip_to(duration)
    except ValueError:
        return [], f"outside the video (0-{duration:.1f} s)"
    overlapping = [u for u in units if u.span.overlap(span) > 0]
    if not overlapping:
        return [], "covers no unexplored clip"
    good = [u for u in overlapping if u.span.iou(span) >= GOOD_IOU]
    if good:
        return [max(good, key=lambda u: u.span.iou(span))], None
    # Wider than one clip, or inside one: the clips covering most of it, finest first on ties.
    return sorted(overlapping, key=lambda u: (-u.span.overlap(span), u.span.duration)), None


def snap_all(raws: list[tuple[float, float]], units: list[Unit], duration: float) -> SnapResult:
    result = SnapResult()
    for raw in raws:
        snapped, why = snap_span(raw, units, duration)
        if why:
            result.dropped.append({"span": [round(float(x), 2) for x in raw], "why": why})
        for unit in snapped:
            if unit not in result.kept:
                result.kept.append(unit)
    return result


def interleave(*rankings: list[Unit]) -> list[Unit]:
    """Round-robin over several rankings without repeats (the model's picks first, then retrieval's …)."""
    out: list[Unit] = []
    for i in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if i < len(ranking) and ranking[i] not in out:
                out.append(ranking[i])
    return out
