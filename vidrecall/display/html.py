"""HTML views of answers, trajectories and memory for Jupyter (`_repr_html_`), self-contained (inline SVG and
base64 thumbnails, no JavaScript, no external files), so a saved notebook shows them anywhere.

Every string that came from a video or a model (captions, OCR text, answers, reasons) is escaped: it is data,
never markup.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from vidrecall.display.timeline import (EVIDENCE_COLOR, PATH_COLOR, ZoomStop, infer_duration, lanes_for, level_color,
                                merge_repeats, time_ticks, zoom_path)
from vidrecall.core.types import MemoryNode, fmt_time
from vidrecall.core.errors import first_line

if TYPE_CHECKING:
    from vidrecall.core.result import Answer, Cost, Evidence, Step
    from vidrecall.evaluation.items import QAItem

STYLE = """<style>
.vr{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.4;max-width:980px}
.vr table{border-collapse:collapse;margin:4px 0;font-size:12px}
.vr th,.vr td{border-bottom:1px solid rgba(128,128,128,.3);padding:3px 6px;text-align:left;vertical-align:top}
.vr th{font-weight:600}
.vr .vr-q{font-weight:600;margin-bottom:4px}
.vr .vr-ans{font-size:15px;margin:6px 0}
.vr .vr-muted{opacity:.7;font-size:12px}
.vr .vr-badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:11px;margin-left:6px;
  border:1px solid rgba(128,128,128,.5)}
.vr .vr-chosen{font-weight:700;background:rgba(85,168,104,.18)}
.vr .vr-abstained{opacity:.72;font-style:italic}
.vr .vr-abstained b{font-weight:500}
.vr .vr-guess{border-style:dashed;border-color:#B8860B;color:#8a6500}
.vr .vr-abstained .vr-chosen{background:rgba(184,134,11,.12);font-weight:500}
.vr .vr-bar{display:inline-block;width:110px;height:9px;border-radius:4px;background:rgba(128,128,128,.25);
  vertical-align:middle;margin:0 6px}
.vr .vr-bar>span{display:block;height:100%;border-radius:4px}
.vr .vr-text{max-width:560px;white-space:pre-wrap;word-break:break-word}
.vr details summary{cursor:pointer;margin-top:6px}
.vr svg,.vr img{max-width:100%;height:auto}
</style>"""

GOLD_COLOR = "#55A868"
MAX_TEXT = 400  # characters of a caption shown in a table cell; the whole text is in the hover title


@dataclass(frozen=True)
class HtmlView:
    """Any of these views as an object Jupyter renders (the last expression of a cell)."""

    html: str
    text: str = ""

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or f"<HtmlView {len(self.html)} chars>"


# --- answers ------------------------------------------------------------------------------------

def answer_html(answer: "Answer", video_path: str | Path | None = None, *, duration: float | None = None,
                thumbnails: bool = True, per_span: int = 2, max_evidence: int = 8) -> str:
    """The answer, its confidence, the evidence with timestamps and frame thumbnails, the zoom path as a small
    timeline, the cost, and the trajectory folded underneath."""
    video = _existing_video(video_path or answer.video)
    duration = duration or _video_duration(video) or infer_duration((), answer)
    evidence = list(answer.evidence[:max_evidence])
    thumbs, thumb_note = (_thumbnail_cells(video, [(e.start, e.end) for e in evidence], per_span)
                          if thumbnails else ({}, ""))

    abstained = bool(getattr(answer, "abstained", False))
    parts = [f'<div class="vr vr-answer{" vr-abstained" if abstained else ""}">{STYLE}',
             f'<div class="vr-q">Q: {_esc(answer.question)}</div>']
    if answer.options:
        parts.append(_options_html(answer.options, answer.option))
    parts.append(f'<div class="vr-ans">{_answer_line(answer)}</div>')
    if abstained and answer.searched is not None:
        parts.append(f'<div class="vr-muted">searched: {_esc(answer.searched.describe())}</div>')
    if answer.reason:
        parts.append(f'<div class="vr-muted">why: {_esc(_clip(answer.reason, 600))}</div>')
    if duration > 0:
        parts.append(timeline_svg(duration, evidence=answer.evidence, stops=zoom_path(answer.trajectory)))
    parts.append(_evidence_table(evidence, thumbs, len(answer.evidence)))
    if thumb_note:
        parts.append(f'<div class="vr-muted">{_esc(thumb_note)}</div>')
    parts.append(cost_html(answer.cost))
    if answer.trajectory:
        parts.append(f"<details><summary>trajectory: {len(answer.trajectory)} steps</summary>"
                     f"{trajectory_html(answer.trajectory, styled=False)}</details>")
    parts.append("</div>")
    return "\n".join(parts)


def answer_head(answer: "Answer") -> str:
    """"B. Sintel": the option letter in front of the answer text unless the text already starts with it."""
    head = answer.answer
    if answer.option and not head.strip().upper().startswith(answer.option.upper()):
        head = f"{answer.option}. {head}"
    return head


def _answer_line(answer: "Answer") -> str:
    head = answer_head(answer)
    badges = []
    if getattr(answer, "abstained", False):
        badges.append(f'<span class="vr-badge vr-guess" title="nothing the search read backs this answer">'
                      f'{_esc(answer.trust_label())}</span>')
    if answer.forced:
        badges.append('<span class="vr-badge" title="a budget ran out; the answer was forced">forced</span>')
    if answer.decided_by:
        badges.append(f'<span class="vr-badge" title="what decided the answer">{_esc(answer.decided_by)}</span>')
    if answer.strategy:
        badges.append(f'<span class="vr-badge" title="strategy">{_esc(answer.strategy)}</span>')
    calibrated = bool(getattr(answer, "calibrated", False))
    return f"A: <b>{_esc(head)}</b> {confidence_bar(answer.confidence, calibrated=calibrated)}{''.join(badges)}"


def confidence_bar(confidence: float, *, calibrated: bool | None = None) -> str:
    """The confidence as a bar and a number; `calibrated=False` adds "uncalibrated" (the profile has no
    calibration: the number is the judge's own, not a measured chance of being right)."""
    c = min(1.0, max(0.0, float(confidence)))
    color = "#55A868" if c >= 0.7 else "#E0A030" if c >= 0.4 else "#C44E52"
    note = (', <span title="the profile has no calibration: this is the judge\'s own confidence, not a measured '
            'chance of being right">uncalibrated</span>' if calibrated is False else "")
    return (f'<span class="vr-bar" title="confidence {c:.2f}"><span style="width:{c * 100:.0f}%;background:{color}">'
            f'</span></span><span class="vr-muted">confidence {c:.2f}{note}</span>')


def _options_html(options: Sequence[str], chosen: str | None) -> str:
    chosen = (chosen or "").strip().upper()
    items = []
    for i, opt in enumerate(options):
        prefixed = re.match(r"\s*\(?([A-Za-z])\s*[.):]", opt)
        letter = prefixed.group(1).upper() if prefixed else chr(ord("A") + i)
        items.append(f'<li{" class=vr-chosen" if chosen == letter else ""}>{_esc(opt)}</li>')
    return f'<ul style="margin:2px 0 2px 18px;padding:0">{"".join(items)}</ul>'


def _evidence_table(evidence: Sequence["Evidence"], thumbs: dict[int, str], total: int) -> str:
    if not evidence:
        return '<div class="vr-muted">no evidence spans</div>'
    rows = []
    for i, ev in enumerate(evidence):
        rows.append(f"<tr><td><b>{_esc(ev.label())}</b><br><span class=vr-muted>{ev.start:.1f}–{ev.end:.1f} s</span></td>"
                    f"<td>{_esc(ev.level)}</td><td>{thumbs.get(i, '')}</td>"
                    f"<td class=vr-text title=\"{_esc(ev.text)}\">{_esc(_clip(ev.text, MAX_TEXT))}</td></tr>")
    more = f'<div class="vr-muted">… and {total - len(evidence)} more evidence spans</div>' if total > len(evidence) else ""
    return ("<table><tr><th>evidence</th><th>level</th><th>frames</th><th>memory says</th></tr>"
            + "".join(rows) + "</table>" + more)


def _thumbnail_cells(video: Path | None, spans: Sequence[tuple[float, float]], per_span: int,
                     max_side: int = 160) -> tuple[dict[int, str], str]:
    """Thumbnail HTML per row (by index), or a note saying why there are none (the view still renders)."""
    if not spans:
        return {}, ""
    if video is None:
        return {}, "no frame thumbnails: the video file is not at hand (pass video_path=...)"
    from vidrecall.display.thumbnails import thumbnails_for_spans, thumbnails_html

    try:
        per_row = thumbnails_for_spans(video, spans, per_span, max_side=max_side, skip_bad_spans=True)
    except (ValueError, RuntimeError, OSError, ImportError) as exc:
        return {}, f"no frame thumbnails for {video.name}: {first_line(exc)}"
    return {i: thumbnails_html(t, f"{fmt_time(a)}-{fmt_time(b)}") for i, (t, (a, b)) in enumerate(zip(per_row, spans))}, ""


def cost_html(cost: "Cost") -> str:
    levels = ", ".join(f"{k} {v}" for k, v in cost.captions_by_level.items()) or "none"
    cells = [("LLM calls", cost.llm_calls), ("tokens in/out", f"{cost.tokens_in:,}/{cost.tokens_out:,}"),
             ("captioner calls", cost.vlm_calls), ("new captions", f"{cost.captions_made} ({levels})"),
             ("reused captions", cost.captions_reused), ("frames decoded", cost.frames_decoded),
             ("prompt tokens from the KV cache", f"{cost.tokens_in_cached:,}"),
             ("cache hits", cost.cache_hits), ("malformed outputs", cost.malformed_outputs),
             ("seconds", f"{cost.seconds:.1f}")]
    return ('<div class="vr-muted" style="margin-top:4px">cost: '
            + " · ".join(f"{name} <b>{_esc(str(value))}</b>" for name, value in cells) + "</div>")


# --- trajectories -------------------------------------------------------------------------------

def trajectory_html(steps: Sequence["Step"], *, styled: bool = True) -> str:
    """One row per graph step: what it did, where it looked, what it added to memory and what it called."""
    rows = []
    for s in steps:
        spans = ", ".join(f"{fmt_time(a)}-{fmt_time(b)}" for a, b in s.spans) or ""
        tokens = sum(int(c.get("tokens_in", 0) or 0) + int(c.get("tokens_out", 0) or 0) for c in s.model_calls)
        calls = f"{len(s.model_calls)}" + (f" ({tokens:,} tok)" if tokens else "")
        captions = f"+{s.captions_added}" + (f" / {s.captions_reused} reused" if s.captions_reused else "")
        detail = _esc(_clip(json.dumps(s.detail, default=str, ensure_ascii=False), 2000)) if s.detail else ""
        rows.append(f"<tr title=\"{detail}\"><td>{s.index}</td><td><b>{_esc(s.node)}</b></td>"
                    f"<td class=vr-text>{_esc(_clip(s.message, MAX_TEXT))}</td><td>{_esc(s.level or '')}</td>"
                    f"<td>{_esc(spans)}</td><td>{s.frames_sampled}</td><td>{captions}</td><td>{calls}</td>"
                    f"<td>{s.elapsed_s:.1f}s</td></tr>")
    table = ("<table><tr><th>#</th><th>step</th><th>what happened</th><th>level</th><th>spans</th><th>frames</th>"
             "<th>captions</th><th>model calls</th><th>time</th></tr>" + "".join(rows) + "</table>")
    return f'<div class="vr vr-trajectory">{STYLE}{table}</div>' if styled else table


# --- memory -------------------------------------------------------------------------------------

def memory_html(nodes: Sequence[MemoryNode], duration: float | None = None, *, video_path: str | Path | None = None,
                thumbnails: bool = False, max_rows: int = 200, title: str | None = None) -> str:
    """The memory of a video: a lane timeline (hover a bar for its caption) and a table of the captions.

    With `thumbnails=True` and a video at hand, each row shows a frame from its span (slower: one decode a row).
    """
    ordered = sorted(nodes, key=lambda n: (n.depth, n.start))
    duration = duration or _video_duration(_existing_video(video_path)) or infer_duration(ordered)
    counts = {lv: sum(1 for n in ordered if n.level == lv) for lv in lanes_for(ordered)}
    head = title or f"{len(ordered)} captions: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    shown = ordered[:max_rows]
    thumbs, note = (_thumbnail_cells(_existing_video(video_path), [(n.start, n.end) for n in shown], 1, 96)
                    if thumbnails else ({}, ""))
    rows = [f"<tr><td>{_esc(n.level)}</td><td>{_esc(n.span.label())}</td><td>{thumbs.get(i, '')}</td>"
            f"<td class=vr-text title=\"{_esc(n.text)}\">{_esc(_clip(n.text, MAX_TEXT))}</td>"
            f"<td class=vr-muted>{_esc(n.instruction or '')}</td><td class=vr-muted>{_esc(n.captioner)}</td></tr>"
            for i, n in enumerate(shown)]
    more = f'<div class="vr-muted">… {len(ordered) - len(shown)} more rows not shown (max_rows={max_rows})</div>' \
        if len(ordered) > len(shown) else ""
    parts = [f'<div class="vr vr-memory">{STYLE}<div class="vr-q">{_esc(head)}</div>']
    if duration > 0:
        parts.append(timeline_svg(duration, nodes=ordered))
    if note:
        parts.append(f'<div class="vr-muted">{_esc(note)}</div>')
    parts.append("<table><tr><th>level</th><th>span</th><th>frame</th><th>caption</th><th>instruction</th>"
                 "<th>captioner</th></tr>" + "".join(rows) + "</table>" + more + "</div>")
    return "\n".join(parts)


def search_html(results: Sequence[tuple[MemoryNode, float]], query: str = "", *, video_path: str | Path | None = None,
                thumbnails: bool = True) -> str:
    """Memory search hits, best first, with their score, span and (when the video is at hand) a frame."""
    nodes = [n for n, _ in results]
    thumbs, note = (_thumbnail_cells(_existing_video(video_path), [(n.start, n.end) for n in nodes], 1, 96)
                    if thumbnails else ({}, ""))
    rows = [f"<tr><td>{score:.3f}</td><td>{_esc(n.level)}</td><td>{_esc(n.span.label())}</td><td>{thumbs.get(i, '')}</td>"
            f"<td class=vr-text>{_esc(_clip(n.text, MAX_TEXT))}</td></tr>" for i, (n, score) in enumerate(results)]
    head = f"search {query!r}: {len(results)} hits" if query else f"{len(results)} hits"
    return (f'<div class="vr vr-search">{STYLE}<div class="vr-q">{_esc(head)}</div>'
            + (f'<div class="vr-muted">{_esc(note)}</div>' if note else "")
            + "<table><tr><th>score</th><th>level</th><th>span</th><th>frame</th><th>caption</th></tr>"
            + "".join(rows) + "</table></div>")


# --- comparisons and plain tables ---------------------------------------------------------------------

COMPARE_ROWS: tuple[tuple[str, Any], ...] = (
    ("answer", answer_head),
    ("found", lambda a: a.trust_label() or ("backed by what it read" if a.grounded else "answered")),
    ("confidence", lambda a: f"{a.confidence:.2f}" + ("" if a.calibrated else " (uncalibrated)")),
    ("forced", lambda a: "yes" if a.forced else "no"),
    ("decided by", lambda a: a.decided_by),
    ("evidence", lambda a: ", ".join(e.label() for e in a.evidence) or "none"),
    ("steps", lambda a: len(a.trajectory)),
    ("llm_calls", lambda a: a.cost.llm_calls),
    ("tokens in/out", lambda a: f"{a.cost.tokens_in:,}/{a.cost.tokens_out:,}"),
    ("captioner calls", lambda a: a.cost.vlm_calls),
    ("new captions", lambda a: ", ".join(f"{k} {v}" for k, v in a.cost.captions_by_level.items()) or "0"),
    ("reused captions", lambda a: a.cost.captions_reused),
    ("frames decoded", lambda a: a.cost.frames_decoded),
    ("seconds", lambda a: f"{a.cost.seconds:.1f}"),
)


def compare_html(answers: dict[str, "Answer"], *, cards: bool = True, video_path: str | Path | None = None) -> str:
    """The same question answered by several setups, side by side: one column per setup, then their cards."""
    names = list(answers)
    head = "".join(f"<th>{_esc(n)}</th>" for n in names)
    body = "".join(f"<tr><th>{_esc(label)}</th>" + "".join(f"<td>{_esc(get(answers[n]))}</td>" for n in names) + "</tr>"
                   for label, get in COMPARE_ROWS)
    question = next(iter(answers.values())).question if answers else ""
    parts = [f'<div class="vr vr-compare">{STYLE}<div class="vr-q">Q: {_esc(question)}</div>',
             f"<table><tr><th></th>{head}</tr>{body}</table>"]
    if cards:
        parts.append('<div style="display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start">' + "".join(
            f'<div style="flex:1 1 420px;min-width:0"><div class="vr-q">{_esc(n)}</div>'
            f"{answer_html(answers[n], video_path, per_span=1)}</div>" for n in names) + "</div>")
    parts.append("</div>")
    return "\n".join(parts)


def table_html(records: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, *, caption: str = "") -> str:
    """A list of dicts as a plain HTML table (floats to 3 significant digits), for summaries in notebooks."""
    columns = list(columns or dict.fromkeys(k for r in records for k in r))

    def cell(v: Any) -> str:
        return f"{v:.3g}" if isinstance(v, float) else _esc("" if v is None else v)

    rows = "".join("<tr>" + "".join(f"<td>{cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in records)
    cap = f'<div class="vr-q">{_esc(caption)}</div>' if caption else ""
    return (f'<div class="vr vr-table">{STYLE}{cap}<table><tr>' + "".join(f"<th>{_esc(c)}</th>" for c in columns)
            + f"</tr>{rows}</table></div>")


# --- evaluation rows (the failure browser) --------------------------------------------------------

def eval_row_html(row: dict[str, Any], item: "QAItem | None" = None, *, duration: float | None = None) -> str:
    """One evaluation result row (evaluation/runner.py's JSONL) as a card: question, gold vs predicted, the
    predicted evidence against the gold spans on a small timeline, the path the agent took, the cost.

    `item` (a QAItem) supplies the question text and options, which rows do not repeat."""
    correct = row.get("correct")
    mark = {True: "✓ correct", False: "✗ wrong", None: "not scored"}[correct if correct in (True, False) else None]
    predicted = row.get("option") or row.get("answer") or "—"
    gold = row.get("gold") or "—"
    evidence = [_Band(float(a), float(b)) for a, b in row.get("evidence") or []]
    gold_spans = [(float(a), float(b)) for a, b in row.get("gold_spans") or []]
    traj = row.get("trajectory") or {}
    stops = [ZoomStop(i, "path", None, ((float(a), float(b)),)) for i, (a, b) in enumerate(traj.get("spans") or [])]
    video = _existing_video(item.video_path if item is not None else None)
    duration = duration or _video_duration(video) or max([b for _, b in gold_spans] + [e.end for e in evidence]
                                                          + [s.spans[0][1] for s in stops] + [0.0])
    parts = [f'<div class="vr vr-eval-row">{STYLE}',
             f'<div class="vr-q">{_esc(row.get("id", "?"))} <span class="vr-badge">{_esc(row.get("method", ""))}</span>'
             f'<span class="vr-badge">{_esc(row.get("question_type") or "-")}</span>'
             f'<span class="vr-badge">{_esc(mark)}</span></div>']
    if item is not None:
        parts.append(f"<div>Q: {_esc(item.question)}</div>")
        if item.options:
            parts.append(_options_html(item.options, row.get("option")))
    parts.append(f'<div class="vr-ans">predicted <b>{_esc(predicted)}</b> · gold <b>{_esc(gold)}</b> '
                 f'{confidence_bar(float(row.get("confidence") or 0))}'
                 + ('<span class="vr-badge">forced</span>' if row.get("forced") else "")
                 + ('<span class="vr-badge vr-guess">guess</span>' if row.get("guess") else
                    '<span class="vr-badge vr-guess">not found</span>' if row.get("abstained") else "")
                 + (f'<span class="vr-badge">{_esc(row["decided_by"])}</span>' if row.get("decided_by") else "") + "</div>")
    if row.get("error"):
        parts.append(f'<div style="color:#C44E52">error: {_esc(row["error"])}</div>')
    if duration > 0:
        parts.append(timeline_svg(duration, evidence=evidence, stops=stops, gold=gold_spans))
        parts.append('<div class="vr-muted">yellow: predicted evidence · green: gold span · outlines: spans the agent '
                     f'looked at · evidence hit: {_esc(row.get("evidence_hit"))}</div>')
    if traj.get("nodes"):
        parts.append(f'<div class="vr-muted">path: {_esc(" → ".join(traj["nodes"]))}</div>')
    cost = row.get("cost") or {}
    parts.append('<div class="vr-muted">cost: ' + " · ".join(
        f"{k} <b>{_esc(cost[k])}</b>" for k in ("llm_calls", "tokens_in", "tokens_out", "captions_by_level",
                                               "captions_reused", "frames_decoded", "seconds") if k in cost) + "</div>")
    parts.append("</div>")
    return "\n".join(parts)


def failures_html(rows: Sequence[dict[str, Any]], items: Any = None, *, limit: int = 10) -> str:
    """The wrong and failed rows as cards, worst first (errors, then confident mistakes)."""
    by_id = {it.id: it for it in items} if items is not None else {}
    failed = [r for r in rows if r.get("error") or r.get("correct") is False]
    failed.sort(key=lambda r: (not r.get("error"), -float(r.get("confidence") or 0)))
    cards = [eval_row_html(r, by_id.get(r.get("id"))) for r in failed[:limit]]
    head = f"{len(failed)} of {len(rows)} rows wrong or failed" + (f"; showing {limit}" if len(failed) > limit else "")
    return f'<div class="vr vr-failures">{STYLE}<div class="vr-q">{_esc(head)}</div>{"<hr>".join(cards)}</div>'


@dataclass(frozen=True)
class _Band:
    """A predicted evidence span from a result row, shaped like Evidence for the timeline."""

    start: float
    end: float
    level: str = ""

    def label(self) -> str:
        return f"{fmt_time(self.start)}-{fmt_time(self.end)}"


# --- the small timeline (inline SVG) --------------------------------------------------------------

class EvidenceSpan(Protocol):
    """What the timeline reads of an evidence span: an Evidence, or a result row's _Band."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def level(self) -> str: ...
    def label(self) -> str: ...


def timeline_svg(duration: float, *, nodes: Sequence[MemoryNode] = (), evidence: Sequence[EvidenceSpan] = (),
                 stops: Sequence[ZoomStop] = (), gold: Sequence[tuple[float, float]] = (), width: int = 760) -> str:
    """Levels as lanes, captions as bars (hover shows the caption), evidence as bands, the zoom path as outlines;
    `gold` spans (from annotations) as green bands."""
    lanes = lanes_for(nodes, [s.level for s in stops] + [e.level for e in evidence]) or ["video"]
    label_w, lane_h, top, axis_h = 70, 18, 6, 18
    height = top + lane_h * len(lanes) + axis_h
    plot_w = width - label_w - 8

    def x(t: float) -> float:
        return label_w + plot_w * min(max(t, 0.0), duration) / duration

    def y(level: str | None) -> float:
        return top + lane_h * (lanes.index(level) if level in lanes else len(lanes) - 1)

    # viewBox + max-width: in a narrow column (notebook 03's cards side by side) the picture scales down
    # instead of spilling into the next column.
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'preserveAspectRatio="xMinYMin meet" style="display:block;margin:6px 0;font:10px sans-serif;'
           f'max-width:100%;height:auto" role="img" aria-label="timeline">']
    for i, lane in enumerate(lanes):
        out.append(f'<text x="{label_w - 4}" y="{top + lane_h * i + 12}" text-anchor="end" fill="currentColor">{_esc(lane)}</text>'
                   f'<rect x="{label_w}" y="{top + lane_h * i + 2}" width="{plot_w}" height="{lane_h - 4}" '
                   f'fill="rgba(128,128,128,.10)"/>')
    for a, b in gold:
        out.append(f'<rect x="{x(a):.1f}" y="{top}" width="{max(x(b) - x(a), 2):.1f}" height="{lane_h * len(lanes)}" '
                   f'fill="{GOLD_COLOR}" opacity=".45"><title>gold {fmt_time(a)}-{fmt_time(b)}</title></rect>')
    for ev in evidence:
        w = max(x(ev.end) - x(ev.start), 2)
        out.append(f'<rect x="{x(ev.start):.1f}" y="{top}" width="{w:.1f}" height="{lane_h * len(lanes)}" '
                   f'fill="{EVIDENCE_COLOR}" opacity=".45"><title>evidence {_esc(ev.label())}</title></rect>')
    for n in nodes:
        w = max(x(n.end) - x(n.start) - 0.5, 1)
        out.append(f'<rect x="{x(n.start):.1f}" y="{y(n.level) + 3}" width="{w:.1f}" height="{lane_h - 6}" '
                   f'fill="{level_color(lanes.index(n.level))}" opacity=".9"><title>{_esc(n.level)} {_esc(n.span.label())}: '
                   f'{_esc(_clip(n.text, 600))}</title></rect>')
    for label, stop in merge_repeats(list(stops)):
        for a, b in stop.spans:
            dash = ' stroke-dasharray="3,2"' if stop.node == "localize" else ""
            out.append(f'<rect x="{x(a):.1f}" y="{y(stop.level) + 1}" width="{max(x(b) - x(a), 2):.1f}" height="{lane_h - 2}" '
                       f'fill="none" stroke="{PATH_COLOR}" stroke-width="1.3"{dash}><title>step {label} '
                       f'({_esc(stop.node)}) {fmt_time(a)}-{fmt_time(b)}</title></rect>'
                       f'<text x="{x(a) + 2:.1f}" y="{y(stop.level) + 11}" fill="{PATH_COLOR}" font-weight="bold">{label}</text>')
    axis_y = top + lane_h * len(lanes) + 12
    for t in time_ticks(duration):
        out.append(f'<text x="{x(t):.1f}" y="{axis_y}" text-anchor="middle" fill="currentColor" opacity=".7">{fmt_time(t)}</text>')
    out.append("</svg>")
    return "".join(out)


# --- Jupyter wiring -------------------------------------------------------------------------------

def view(obj: Any, **kwargs: Any) -> HtmlView:
    """An object Jupyter renders as HTML: an Answer, a list of Steps, or a list of MemoryNodes."""
    from vidrecall.core.result import Answer, Step

    if isinstance(obj, Answer):
        return HtmlView(answer_html(obj, **kwargs), obj.summary())
    items = list(obj)
    if items and all(isinstance(i, Step) for i in items):
        return HtmlView(trajectory_html(items, **kwargs), f"{len(items)} steps")
    if all(isinstance(i, MemoryNode) for i in items):
        return HtmlView(memory_html(items, **kwargs), f"{len(items)} memory nodes")
    raise TypeError(f"view() shows an Answer, a list of Step or a list of MemoryNode, not {type(obj).__name__}")


def enable_rich_display(shell: Any = None) -> bool:
    """Register HTML rendering for Answer in the running IPython shell; False outside IPython."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None:
        return False
    from vidrecall.core.result import Answer

    shell.display_formatter.formatters["text/html"].for_type(Answer, lambda a: answer_html(a))
    return True


# --- helpers ------------------------------------------------------------------------------------

def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _existing_video(path: str | Path | None) -> Path | None:
    if not path:
        return None
    p = Path(path).expanduser()
    return p if p.is_file() else None


def _video_duration(video: Path | None) -> float:
    if video is None:
        return 0.0
    try:
        from vidrecall.tools.video import probe

        return float(probe(video).duration)
    except (ValueError, RuntimeError, OSError, ImportError):
        return 0.0
