"""Turning result rows into numbers: correctness, evidence hits, letter priors, per-method summaries.

A result row is one JSON object per question as written by evaluation/runner.py. Items without a gold
answer (test splits, grounding queries) are counted but never scored; error rows count as wrong.
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

def read_results(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a results JSONL; the last row of an (id, method) pair wins; a torn last line is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s: line %d is not valid JSON (an interrupted write?); ignored", path, n)
            continue
        rows[(str(row.get("id")), str(row.get("method")))] = row
    return list(rows.values())


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
        s.forced += bool(r.get("forced"))
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
        if correct is None:
            continue
        s.scored += 1
        s.correct += bool(correct)
        per_type[r.get("question_type") or "-"].append(bool(correct))
        if r.get("evidence_hit") is not None:
            s.evidence_items += 1
            s.evidence_hits += bool(r["evidence_hit"])
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
