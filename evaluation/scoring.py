"""Turning result rows into numbers: correctness, evidence hits, letter priors, per-method summaries.

A result row is one JSON object per question as written by evaluation/runner.py. Items without a gold
answer (test splits, grounding queries) are counted but never scored; error rows count as wrong.

Result files are read line by line and checked (`row_problem`): a line that is not UTF-8, not JSON, not an
object, or whose fields have the wrong types (`"correct": "yes"` -- only a real `true` is correct) is left
out and counted (`ResultsFile.left_out`), never scored; a file with no usable row at all is a ResultsError
naming it.
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any, Iterable, Sequence

from vidrecall.core.types import Span
from vidrecall.evaluation.loaders.common import json_kind

log = logging.getLogger(__name__)


# --- one question ---------------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", str(text).lower()))


def open_answer_matches(predicted: str, gold: str) -> bool:
    """Lenient exact match for open-ended answers: same words, or the short gold answer leads the prediction.

    (ActivityNet-QA answers are one or two words: "yes", "3", "red"; no LLM judge is used.)
    """
    p, g = _norm(predicted), _norm(gold)
    if not p or not g:
        return False
    return p == g or (len(g.split()) <= 3 and (p.startswith(g + " ") or f" {g} " in f" {p} "))


def is_correct(gold: str, option: str | None, answer: str, multiple_choice: bool) -> bool | None:
    """None when there is nothing to score against (no gold answer)."""
    if not gold:
        return None
    if multiple_choice:
        return option is not None and option.upper() == gold.upper()
    return open_answer_matches(answer, gold)


def evidence_hit(predicted: Sequence[Span], gold: Sequence[Span]) -> bool | None:
    """Does any predicted evidence span overlap any gold span? None when the item has no gold spans."""
    if not gold:
        return None
    return any(p.overlap(g) > 0 or (g.duration == 0 and p.contains(g.start)) for p in predicted for g in gold)


def letter_prior(letters: Iterable[str | None]) -> dict[str, float]:
    """Share of each answer letter ("-" for no letter), letters sorted."""
    counts = Counter(letter or "-" for letter in letters)
    total = sum(counts.values())
    return {k: counts[k] / total for k in sorted(counts)} if total else {}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion; (0, 0) for n = 0."""
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# --- result files --------------------------------------------------------------------------------------------

class ResultsError(ValueError):
    """A results file with no usable row in it; one line naming the file."""


BOOL_FIELDS = ("correct", "evidence_hit", "forced", "multiple_choice")  # true, false or null; nothing else
TEXT_FIELDS = ("method", "question_type", "decided_by", "gold", "option", "source")  # text or null
LEFT_OUT_LISTED = 3  # line numbers named per reason


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def row_problem(row: Any) -> str | None:
    """Why a parsed line is not a result row that can be scored, or None when it is one."""
    if not isinstance(row, dict):
        return f"not an object (it is {json_kind(row)})"
    if isinstance(row.get("id"), bool) or not isinstance(row.get("id"), (str, int)):
        return "no 'id' (text)"
    if not isinstance(row.get("method"), str):
        return "no 'method' (text)"
    for key in BOOL_FIELDS:
        if row.get(key) is not None and not isinstance(row[key], bool):
            return f"'{key}' is {json_kind(row[key])}, not true, false or null"
    for key in TEXT_FIELDS:
        if row.get(key) is not None and not isinstance(row[key], str):
            return f"'{key}' is {json_kind(row[key])}, not text"
    cost = row.get("cost")
    if cost is None:
        return None
    if not isinstance(cost, dict):
        return f"'cost' is {json_kind(cost)}, not an object"
    for key in COST_FIELDS:
        if cost.get(key) is not None and not _is_number(cost[key]):
            return f"'cost.{key}' is {json_kind(cost[key])}, not a finite number"
    levels = cost.get("captions_by_level")
    if levels is not None and not (isinstance(levels, dict) and all(_is_number(v) for v in levels.values())):
        return "'cost.captions_by_level' is not an object of numbers"
    return None


@dataclass
class ResultsFile:
    """The usable rows of one results file (the last row of an (id, method) pair wins), and the lines
    left out with why ("line 7: 'correct' is a string, not true, false or null")."""

    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)
    lines: int = 0  # non-blank lines read

    def left_out_line(self) -> str | None:
        """One line: how many lines were left out and why (each reason with its first line numbers)."""
        if not self.left_out:
            return None
        by_reason: dict[str, list[int]] = defaultdict(list)
        for n, why in self.left_out:
            by_reason[why].append(n)
        parts = []
        for why, numbers in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            shown = ", ".join(str(n) for n in numbers[:LEFT_OUT_LISTED]) + (", ..." if len(numbers) > LEFT_OUT_LISTED else "")
            parts.append(f"{len(numbers)} {why} (line{'s' if len(numbers) > 1 else ''} {shown})")
        return f"{self.path}: {len(self.left_out)} of {self.lines} lines left out: " + "; ".join(parts)

    def require_rows(self) -> None:
        """ResultsError, one line naming the file, when it holds no usable row (empty, or only bad lines)."""
        if self.rows:
            return
        if not self.lines:
            raise ResultsError(f"{self.path}: no result rows (the file is empty); give a results file that "
                               "`vidrecall eval` wrote")
        first = self.left_out[0]
        raise ResultsError(f"{self.path}: none of its {self.lines} lines is a result row (line {first[0]}: "
                           f"{first[1]}); give a results file that `vidrecall eval` wrote")


def load_results(path: str | Path) -> ResultsFile:
    """Every line of a results JSONL checked (`row_problem`); a missing file has no rows and no lines."""
    path = Path(path)
    out = ResultsFile(path)
    if not path.exists():
        return out
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read the results file ({exc.strerror or exc})") from None
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        out.lines += 1
        try:
            row = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.left_out.append((n, "not UTF-8 text"))
            continue
        except (json.JSONDecodeError, RecursionError):
            out.left_out.append((n, "not valid JSON (an interrupted write?)"))
            continue
        problem = row_problem(row)
        if problem is not None:
            out.left_out.append((n, problem))
            continue
        rows[(str(row["id"]), str(row["method"]))] = row
    out.rows = list(rows.values())
    return out


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The usable rows of a results JSONL (see `load_results`); lines left out are logged in one warning."""
    results = load_results(path)
    if (line := results.left_out_line()) is not None:
        log.warning("%s; ignored", line)
    return results.rows


# --- many questions ------------------------------------------------------------------------------------------

COST_FIELDS = ("frames_decoded", "captions_made", "captions_reused", "llm_calls", "vlm_calls", "tokens_in",
               "tokens_out", "malformed_outputs", "seconds", "asr_calls", "speech_audio_s", "speech_s")


@dataclass
class TypeScore:
    n: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass
class MethodSummary:
    method: str
    questions: int = 0
    scored: int = 0
    correct: int = 0
    errors: int = 0
    forced: int = 0
    malformed_outputs: int = 0
    by_type: dict[str, TypeScore] = field(default_factory=dict)
    gold_prior: dict[str, float] = field(default_factory=dict)
    answer_prior: dict[str, float] = field(default_factory=dict)
    decided_by: dict[str, int] = field(default_factory=dict)
    cost_per_question: dict[str, float] = field(default_factory=dict)
    captions_per_level: dict[str, float] = field(default_factory=dict)
    evidence_items: int = 0  # scored items with gold spans
    evidence_hits: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored if self.scored else 0.0

    @property
    def accuracy_interval(self) -> tuple[float, float]:
        return wilson_interval(self.correct, self.scored)

    @property
    def evidence_hit_rate(self) -> float | None:
        return self.evidence_hits / self.evidence_items if self.evidence_items else None

    @property
    def captions_per_question(self) -> float:
        return self.cost_per_question.get("captions_made", 0.0)


def _captions_made(cost: dict[str, Any]) -> int:
    return int(sum((cost.get("captions_by_level") or {}).values()))


def summarize(rows: Iterable[dict[str, Any]], method: str = "") -> MethodSummary:
    rows = list(rows)
    s = MethodSummary(method or (rows[0].get("method", "") if rows else ""))
    s.questions = len(rows)
    per_type: dict[str, list[bool]] = defaultdict(list)
    costs: dict[str, list[float]] = defaultdict(list)
    levels: dict[str, list[float]] = defaultdict(list)
    all_levels = sorted({lv for r in rows for lv in ((r.get("cost") or {}).get("captions_by_level") or {})})
    for r in rows:
        if r.get("error"):
            s.errors += 1
        s.forced += r.get("forced") is True
        cost = dict(r.get("cost") or {})
        cost["captions_made"] = _captions_made(cost)
        s.malformed_outputs += int(cost.get("malformed_outputs", 0) or 0)
        for key in COST_FIELDS:
            costs[key].append(float(cost.get(key, 0) or 0))
        for lv in all_levels:
            levels[lv].append(float((cost.get("captions_by_level") or {}).get(lv, 0)))
        if r.get("decided_by"):
            s.decided_by[r["decided_by"]] = s.decided_by.get(r["decided_by"], 0) + 1
        correct = r.get("correct")
        if not isinstance(correct, bool):  # null: nothing to score against; anything else is no verdict
            continue
        s.scored += 1
        s.correct += correct  # only a real true: "yes", 1 or "false" never count (row_problem refuses them)
        per_type[r.get("question_type") or "-"].append(correct)
        if isinstance(r.get("evidence_hit"), bool):
            s.evidence_items += 1
            s.evidence_hits += r["evidence_hit"]
    s.by_type = {t: TypeScore(len(v), sum(v)) for t, v in sorted(per_type.items())}
    mc = [r for r in rows if r.get("multiple_choice")]
    s.gold_prior = letter_prior(r.get("gold") for r in mc if r.get("gold"))
    s.answer_prior = letter_prior(r.get("option") for r in mc)
    s.cost_per_question = {k: mean(v) for k, v in costs.items()} if rows else {}
    s.captions_per_level = {k: mean(v) for k, v in levels.items()}
    return s


def summarize_by_method(rows: Iterable[dict[str, Any]]) -> dict[str, MethodSummary]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        grouped[str(r.get("method", ""))].append(r)
    return {m: summarize(rs, m) for m, rs in grouped.items()}
