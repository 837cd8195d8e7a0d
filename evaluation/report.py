"""A Markdown report from result JSONL files: one table for all methods, per-type accuracy, letter priors,
cost per question, evidence hit rate, a PNG plot of accuracy against captions per question, and per method the
expected calibration error of the confidences it gave, with a reliability diagram (PNG)."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Iterable

from vidrecall.evaluation.scoring import MethodSummary, ResultsFile, load_results, summarize_by_method

METHOD_ORDER = ("videolucy", "default", "uniform", "dense")
TABLES_START = "<!-- tables -->"  # where the header ends and the tables (the same for the same rows) begin


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def _ordered(summaries: dict[str, MethodSummary]) -> list[MethodSummary]:
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(summaries.values(), key=lambda s: (rank.get(s.method, len(rank)), s.method))


def main_table(summaries: list[MethodSummary]) -> list[str]:
    lines = ["| method | questions | scored | accuracy | 95% CI | evidence hit | forced | errors | malformed "
             "outputs | captions/q | LLM calls/q | tokens/q | frames/q | seconds/q |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summaries:
        c = s.cost_per_question
        lo, hi = s.accuracy_interval
        tokens = c.get("tokens_in", 0) + c.get("tokens_out", 0)
        lines.append(f"| {s.method} | {s.questions} | {s.scored} | {_pct(s.accuracy if s.scored else None)} | "
                     f"{_pct(lo)}–{_pct(hi)} | {_pct(s.evidence_hit_rate)} | {s.forced} | {s.errors} | "
                     f"{s.malformed_outputs} | {_num(c.get('captions_made', 0))} | {_num(c.get('llm_calls', 0))} | "
                     f"{_num(tokens)} | {_num(c.get('frames_decoded', 0))} | {_num(c.get('seconds', 0))} |")
    return lines


def type_table(summaries: list[MethodSummary]) -> list[str]:
    types = sorted({t for s in summaries for t in s.by_type})
    if not types:
        return []
    lines = ["| question type | " + " | ".join(s.method for s in summaries) + " |",
             "|---|" + "---:|" * len(summaries)]
    for t in types:
        cells = [f"{_pct(s.by_type[t].accuracy)} ({s.by_type[t].correct}/{s.by_type[t].n})" if t in s.by_type else "–"
                 for s in summaries]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return lines


def prior_table(summaries: list[MethodSummary]) -> list[str]:
    gold = next((s.gold_prior for s in summaries if s.gold_prior), {})
    letters = sorted(set(gold) | {k for s in summaries for k in s.answer_prior})
    if not letters:
        return []
    lines = ["| answers | " + " | ".join(letters) + " |", "|---|" + "---:|" * len(letters),
             "| gold | " + " | ".join(_pct(gold.get(k, 0.0)) for k in letters) + " |"]
    lines += [f"| {s.method} | " + " | ".join(_pct(s.answer_prior.get(k, 0.0)) for k in letters) + " |"
              for s in summaries]
    return lines


def level_table(summaries: list[MethodSummary]) -> list[str]:
    levels = sorted({lv for s in summaries for lv in s.captions_per_level})
    if not levels:
        return []
    lines = ["| new captions per question | " + " | ".join(levels) + " | reused |", "|---|" + "---:|" * (len(levels) + 1)]
    lines += [f"| {s.method} | " + " | ".join(_num(s.captions_per_level.get(lv, 0.0)) for lv in levels)
              + f" | {_num(s.cost_per_question.get('captions_reused', 0))} |" for s in summaries]
    return lines


SPOKEN_TYPES = ("said", "said_order", "said_when", "never_said")


def speech_table(summaries: list[MethodSummary]) -> list[str]:
    """Spoken-question accuracy beside the rest, and what hearing cost, per method (a `-nospeech` twin
    of a method is the same method with speech off)."""
    if not any(t in s.by_type for s in summaries for t in SPOKEN_TYPES) and not any(
            s.cost_per_question.get("speech_audio_s") for s in summaries):
        return []
    lines = ["| method | spoken questions | other questions | audio transcribed/q (s) | ASR seconds/q |",
             "|---|---:|---:|---:|---:|"]
    for s in summaries:
        spoken = [s.by_type[t] for t in SPOKEN_TYPES if t in s.by_type]
        other = [v for t, v in s.by_type.items() if t not in SPOKEN_TYPES]

        def acc(scores) -> str:
            n, ok = sum(x.n for x in scores), sum(x.correct for x in scores)
            return f"{_pct(ok / n)} ({ok}/{n})" if n else "–"
        c = s.cost_per_question
        lines.append(f"| {s.method} | {acc(spoken)} | {acc(other)} | {_num(c.get('speech_audio_s', 0))} | "
                     f"{_num(c.get('speech_s', 0))} |")
    return lines


def confidence_table(rows: list[dict], summaries: list[MethodSummary], out_md: Path) -> list[str]:
    """Per method: how calibrated the confidences it gave are (ECE, with `<stem>.reliability-<method>.png`), and
    how often it abstained or guessed. ECE leaves out answers replaced by "not found" (their confidence is the
    withheld answer's); a calibrated method is also scored on its raw confidences."""
    from vidrecall.evaluation.calibration import calibration_data, expected_calibration_error, reliability_diagram
    from vidrecall.evaluation.predictions import safe_name

    lines = ["| method | answers with a confidence | accuracy | mean confidence | ECE | ECE before calibration | "
             "calibrated | not found | guesses | reliability diagram |", "|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for s in summaries:
        mine = [r for r in rows if r.get("method") == s.method]
        shown, ok = calibration_data(mine, shown=True)
        if not ok:
            continue
        raw, _ = calibration_data(mine)
        calibrated = sum(bool(r.get("calibrated")) for r in mine)
        png = out_md.with_name(f"{out_md.stem}.reliability-{safe_name(s.method)}.png")
        reliability_diagram(shown, ok, png, compare=(raw, "raw") if calibrated else None,
                            title=f"{s.method}: {len(ok)} answers")
        before = f"{expected_calibration_error(raw, ok):.3f}" if calibrated else "–"
        lines.append(f"| {s.method} | {len(ok)} | {_pct(sum(ok) / len(ok))} | {sum(shown) / len(shown):.2f} | "
                     f"{expected_calibration_error(shown, ok):.3f} | {before} | "
                     f"{'yes' if calibrated == len(mine) else 'no' if not calibrated else f'{calibrated}/{len(mine)}'} | "
                     f"{sum(bool(r.get('abstained')) and not r.get('guess') for r in mine)} | "
                     f"{sum(bool(r.get('guess')) for r in mine)} | [{png.name}]({png.name}) |")
    return lines if len(lines) > 2 else []


def plot_accuracy_vs_captions(summaries: list[MethodSummary], png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for s in summaries:
        if not s.scored:
            continue
        lo, hi = s.accuracy_interval
        x, y = s.captions_per_question, 100 * s.accuracy
        ax.errorbar([x], [y], yerr=[[max(0.0, y - 100 * lo)], [max(0.0, 100 * hi - y)]], fmt="o", capsize=4, label=s.method)
        ax.annotate(s.method, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=9)
    ax.set_xlabel("new captions per question (mean)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    if any(s.scored for s in summaries):
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Accuracy against captioning cost")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def write_report(jsonl_paths: Iterable[str | os.PathLike], out_md: str | os.PathLike, *, title: str | None = None,
                 notes: list[str] | None = None) -> Path:
    """Read every results file, write `out_md`, `<out_md stem>.png` and `<out_md stem>.json` (the tables'
    numbers) beside it; returns the Markdown path.

    Lines of a file that are not result rows are left out and counted: one line per such file is added
    to `notes` (when given) and to the report. A file with no result row at all (empty, random bytes, only
    `[1, 2]` lines) is a ResultsError naming it, before anything is written."""
    paths = [Path(p) for p in jsonl_paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"results file(s) not found: {', '.join(missing)}")
    files = [load_results(p) for p in paths]
    for f in files:
        f.require_rows()
    return _write(files, ", ".join(p.name for p in paths), out_md, title=title, notes=notes)


def write_run_report(folder: str | os.PathLike, out_md: str | os.PathLike, *, title: str | None = None,
                     notes: list[str] | None = None) -> Path:
    """The report of a run folder rebuilt from its predictions.jsonl and trajectory files alone (no model, no
    store): the same tables, and the same `<stem>.json`, as the report `vidrecall eval` wrote there."""
    from vidrecall.evaluation.predictions import PREDICTIONS_NAME, load_predictions

    folder = Path(folder)
    results = load_predictions(folder)
    return _write([results], f"{folder.name}/{PREDICTIONS_NAME} and its trajectory files", out_md, title=title,
                  notes=notes)


def report_numbers(summaries: list[MethodSummary]) -> dict:
    """The numbers behind the tables, per method (what `<report>.json` holds; compared across re-runs)."""
    return {"methods": [{**dataclasses.asdict(s), "accuracy": s.accuracy if s.scored else None,
                         "accuracy_interval": list(s.accuracy_interval), "evidence_hit_rate": s.evidence_hit_rate}
                        for s in summaries]}


def _write(files: list[ResultsFile], sources_text: str, out_md: str | os.PathLike, *, title: str | None,
           notes: list[str] | None) -> Path:
    left_out = [line for f in files if (line := f.left_out_line()) is not None]
    if notes is not None:
        notes.extend(left_out)
    rows = [r for f in files for r in f.rows]
    summaries = _ordered(summarize_by_method(rows))
    out_md = Path(out_md)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    png = plot_accuracy_vs_captions(summaries, out_md.with_suffix(".png"))
    sources = sorted({str(r.get("source", "")) for r in rows if r.get("source")})
    parts = [f"# {title or 'Evaluation report'}", "",
             f"{len(rows)} result rows from {sources_text}"
             + (f" (benchmarks: {', '.join(sources)})" if sources else "") + ".", "",
             *([f"Left out (not result rows): {'; '.join(left_out)}.", ""] if left_out else []),
             TABLES_START, "",
             "Accuracy counts error rows as wrong; items without a gold answer are run but not scored. "
             "Evidence hit: a predicted evidence span overlaps a gold span (items with gold spans only). "
             "Costs are means per question; captions are new ones (reused captions cost nothing).", "",
             "## Results", "", *main_table(summaries), "", f"![accuracy against captions per question]({png.name})", ""]
    for heading, table in (("Accuracy per question type", type_table(summaries)),
                           ("Answer-letter prior (share of each letter)", prior_table(summaries)),
                           ("Captions per question by level", level_table(summaries)),
                           ("Speech: accuracy with and without it, and its cost", speech_table(summaries)),
                           ("Confidence: calibration and abstention", confidence_table(rows, summaries, out_md))):
        if table:
            parts += [f"## {heading}", "", *table, ""]
    decided = [f"- {s.method}: " + ", ".join(f"{k} {v}" for k, v in sorted(s.decided_by.items()))
               for s in summaries if s.decided_by]
    if decided:
        parts += ["## What decided the answers", "", *decided, ""]
    out_md.write_text("\n".join(parts), encoding="utf-8")
    out_md.with_suffix(".json").write_text(json.dumps(report_numbers(summaries), indent=1, sort_keys=True) + "\n",
                                           encoding="utf-8")
    return out_md


def tables_of(report_text: str) -> str:
    """The tables part of a report (everything after its header lines): equal for equal results, wherever the
    rows were read from."""
    return report_text.split(TABLES_START, 1)[-1]
