"""The memory of one video drawn as a timeline: one lane per level, one bar per caption, the zoom path on top.

`plot_timeline` returns a matplotlib Figure (shown inline in notebooks); `save_timeline_png` writes the same
picture for terminals (`vidrecall show VIDEO --out timeline.png`). The lane and zoom-path helpers are shared
with the HTML views in `vidrecall.display.html`, so both pictures agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence, overload

from vidrecall.core.types import SPEECH_LEVEL, MemoryNode, fmt_time

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from vidrecall.core.result import Answer, Step

LEVEL_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3")
EVIDENCE_COLOR = "#F2C12E"
PATH_COLOR = "#222222"
DEFAULT_LEVELS = ("coarse", "fine", "ultrafine")


@dataclass(frozen=True)
class ZoomStop:
    """One step of the agent that looked at spans: where it looked, at which level, in which order."""

    step: int
    node: str
    level: str | None
    spans: tuple[tuple[float, float], ...]


def level_color(depth: int) -> str:
    return LEVEL_COLORS[depth % len(LEVEL_COLORS)]


def lanes_for(nodes: Iterable[MemoryNode], extra_levels: Iterable[str | None] = ()) -> list[str]:
    """Level names ordered coarse → fine: by node depth, then the usual order, then first appearance."""
    depth_of: dict[str, int] = {}
    for node in nodes:
        depth_of.setdefault(node.level, node.depth)
    for name in extra_levels:
        if name and name not in depth_of:
            depth_of[name] = DEFAULT_LEVELS.index(name) if name in DEFAULT_LEVELS else len(DEFAULT_LEVELS) + len(depth_of)
    return sorted(depth_of, key=lambda name: (name == SPEECH_LEVEL, depth_of[name], name))  # speech: own, last lane


def zoom_path(steps: Sequence["Step"]) -> list[ZoomStop]:
    """The steps that looked at spans of a level, in order (localize picks them, zoom captions them).

    Steps that name spans without a level (an answer citing its evidence) are not part of the path; the
    evidence is drawn on its own."""
    return [ZoomStop(s.index, s.node, s.level, tuple((float(a), float(b)) for a, b in s.spans))
            for s in steps if s.spans and s.level]


def infer_duration(nodes: Iterable[MemoryNode] = (), answer: "Answer | None" = None) -> float:
    """The furthest time anything reaches, for when the video itself is not at hand."""
    ends = [n.end for n in nodes]
    if answer is not None:
        ends += [e.end for e in answer.evidence]
        ends += [b for stop in zoom_path(answer.trajectory) for _, b in stop.spans]
    return max(ends, default=0.0)


@overload
def plot_timeline(nodes: Sequence[MemoryNode], duration: float | None = None, answer: "Answer | None" = None,
                  ax: None = None, *, title: str | None = None) -> "Figure": ...
@overload
def plot_timeline(nodes: Sequence[MemoryNode], duration: float | None = None, answer: "Answer | None" = None,
                  ax: "Axes | None" = None, *, title: str | None = None) -> "Figure | SubFigure": ...


def plot_timeline(nodes: Sequence[MemoryNode], duration: float | None = None, answer: "Answer | None" = None,
                  ax: "Axes | None" = None, *, title: str | None = None) -> "Figure | SubFigure":
    """Draw levels as lanes, captions as bars, evidence as bands and the zoom path as numbered outlines.

    Pass `ax` to draw into an existing figure (returns `ax.figure`: a SubFigure when `ax` lies in one);
    otherwise a new Figure is made and returned (no pyplot state is touched).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    duration = duration if duration and duration > 0 else infer_duration(nodes, answer)
    if duration <= 0:
        raise ValueError("plot_timeline: nothing to draw (no nodes, no answer) and no duration given")
    stops = zoom_path(answer.trajectory) if answer is not None else []
    lanes = lanes_for(nodes, [s.level for s in stops] + [e.level for e in (answer.evidence if answer else [])])
    lanes = lanes or list(DEFAULT_LEVELS[:1])
    row = {name: i for i, name in enumerate(lanes)}

    fig: Figure | SubFigure
    if ax is None:
        fig = Figure(figsize=(11, 1.1 + 0.75 * len(lanes)), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure

    def y_of(level: str | None) -> float:
        return row.get(level or "", len(lanes) - 1)

    if answer is not None:
        for ev in answer.evidence:
            ax.axvspan(ev.start, max(ev.end, ev.start + duration * 0.002), color=EVIDENCE_COLOR, alpha=0.35, zorder=0, gid="evidence")

    for node, (sub, subs) in zip(nodes, sub_rows(nodes)):
        depth = lanes.index(node.level)
        height = 0.64 / subs  # overlapping captions of one lane (a whole-span zoom caption over its clips) stack
        ax.add_patch(Rectangle((node.start, y_of(node.level) - 0.32 + sub * height), max(node.end - node.start,
                               duration * 0.001), height, facecolor=level_color(depth), edgecolor="white",
                               linewidth=0.6, alpha=0.9, zorder=2, gid="caption"))

    previous: ZoomStop | None = None
    for label, stop in merge_repeats(stops):
        y = y_of(stop.level)
        for a, b in stop.spans:
            ax.add_patch(Rectangle((a, y - 0.42), max(b - a, duration * 0.003), 0.84, fill=False, edgecolor=PATH_COLOR,
                                   linewidth=1.4, linestyle="--" if stop.node == "localize" else "-", zorder=3,
                                   gid="zoom"))
            ax.annotate(label, ((a + b) / 2, y - 0.44), ha="center", va="bottom", fontsize=8, color=PATH_COLOR, zorder=4,
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": PATH_COLOR, "linewidth": 0.8})
            if previous is not None:
                pa, pb = _parent_span(previous.spans, (a, b))
                ax.annotate("", xy=((a + b) / 2, y - 0.42), xytext=((pa + pb) / 2, y_of(previous.level) + 0.42), zorder=3,
                            arrowprops={"arrowstyle": "->", "color": PATH_COLOR, "linewidth": 1.0, "alpha": 0.7})
        previous = stop

    ax.set_xlim(0, duration)
    ax.set_ylim(len(lanes) - 0.4, -0.9)
    ax.set_yticks(range(len(lanes)), lanes)
    ticks = time_ticks(duration)
    ax.set_xticks(ticks, [fmt_time(t) for t in ticks])
    ax.set_xlabel("time")
    ax.grid(axis="x", alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    counts = {name: sum(1 for n in nodes if n.level == name) for name in lanes}
    handles = [Patch(color=level_color(i), label=f"{name} ({counts[name]})") for i, name in enumerate(lanes)]
    if answer is not None and answer.evidence:
        handles.append(Patch(color=EVIDENCE_COLOR, alpha=0.5, label="evidence"))
    if stops:
        handles.append(Patch(fill=False, edgecolor=PATH_COLOR, label="zoom path (step #)"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(title or _default_title(answer, len(nodes), duration), fontsize=10, loc="left")
    return fig


def sub_rows(nodes: Sequence[MemoryNode]) -> list[tuple[int, int]]:
    """(sub-row, sub-rows in its lane) per node: captions of one level that overlap in time go on separate
    sub-rows, longest first, so a caption spanning a whole minute is never hidden under its 10-s clips."""
    placed: list[tuple[int, int]] = [(0, 1)] * len(nodes)
    by_lane: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        by_lane.setdefault(node.level, []).append(i)
    for members in by_lane.values():
        ends: list[float] = []  # per sub-row, where its last bar ends
        rows: dict[int, int] = {}
        for i in sorted(members, key=lambda k: (-(nodes[k].end - nodes[k].start), nodes[k].start)):
            node = nodes[i]
            row = next((r for r, end in enumerate(ends) if _fits(nodes, rows, r, node)), len(ends))
            if row == len(ends):
                ends.append(node.end)
            rows[i] = row
        for i in members:
            placed[i] = (rows[i], max(1, len(ends)))
    return placed


def _fits(nodes: Sequence[MemoryNode], rows: dict[int, int], row: int, node: MemoryNode) -> bool:
    eps = 1e-3
    return all(not (nodes[k].start < node.end - eps and node.start < nodes[k].end - eps)
               for k, r in rows.items() if r == row)


def checked_png_path(path: str | Path) -> Path:
    """`path` when it ends in .png; ValueError naming it otherwise (checked before anything loads)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: the timeline is written as PNG; give a path ending in .png")
    return path


def save_timeline_png(nodes: Sequence[MemoryNode], duration: float | None, path: str | Path,
                      answer: "Answer | None" = None, *, dpi: int = 130, title: str | None = None) -> Path:
    """Write the timeline as a PNG (for terminals and reports); returns the path written."""
    path = checked_png_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_timeline(nodes, duration, answer, title=title)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def merge_repeats(stops: list[ZoomStop]) -> list[tuple[str, ZoomStop]]:
    """Consecutive stops on the same lane and spans (localize, then zoom there) share one outline: "1,2"."""
    merged: list[tuple[str, ZoomStop]] = []
    for stop in stops:
        if merged and merged[-1][1].level == stop.level and merged[-1][1].spans == stop.spans:
            label, first = merged[-1]
            merged[-1] = (f"{label},{stop.step}", stop if stop.node != "localize" else first)
        else:
            merged.append((str(stop.step), stop))
    return merged


def _parent_span(spans: tuple[tuple[float, float], ...], child: tuple[float, float]) -> tuple[float, float]:
    """The earlier span this one zoomed out of: the one it overlaps most (else the nearest)."""
    mid = (child[0] + child[1]) / 2
    return max(spans, key=lambda s: (min(s[1], child[1]) - max(s[0], child[0]), -abs((s[0] + s[1]) / 2 - mid)))


def time_ticks(duration: float, target: int = 10) -> list[float]:
    nice = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
    step = next((s for s in nice if duration / s <= target), nice[-1])
    return [i * step for i in range(int(duration // step) + 1)]


def _default_title(answer: "Answer | None", n_nodes: int, duration: float) -> str:
    head = f"memory: {n_nodes} captions over {fmt_time(duration)}"
    if answer is None:
        return head
    question = answer.question if len(answer.question) <= 80 else answer.question[:77] + "..."
    return f"{head}  |  Q: {question}  →  {answer.option or answer.answer} ({answer.confidence:.2f})"
