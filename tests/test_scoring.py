"""Scoring rows into accuracy, priors, costs and evidence hits; the Markdown + PNG report."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from vidrecall.evaluation.report import write_report
from vidrecall.evaluation.scoring import (evidence_hit, is_correct, letter_prior, open_answer_matches, read_results,
                                          summarize, summarize_by_method, wilson_interval)
from vidrecall.core.types import Span


def row(qid, method, option, gold, correct, qtype="color", **kw):
    base = {"id": qid, "method": method, "option": option, "gold": gold, "correct": correct, "question_type": qtype,
            "multiple_choice": True, "forced": False, "decided_by": "llm", "evidence_hit": None, "error": None,
            "cost": {"frames_decoded": 10, "captions_by_level": {"coarse": 2, "fine": 1}, "llm_calls": 3,
                     "tokens_in": 100, "tokens_out": 20, "malformed_outputs": 0, "seconds": 2.0}}
    base.update(kw)
    return base


def test_multiple_choice_and_open_answers():
    assert is_correct("B", "B", "B. Green", True) is True
    assert is_correct("B", "C", "C. Blue", True) is False
    assert is_correct("B", None, "Green", True) is False
    assert is_correct("", "A", "A. x", True) is None
    assert is_correct("yes", None, "Yes, he is.", False) is True
    assert is_correct("red", None, "The shirt is dark blue", False) is False
    assert open_answer_matches("3", "3") and not open_answer_matches("13", "3")
    assert open_answer_matches("in the kitchen", "kitchen")


def test_evidence_hit_needs_overlap():
    gold = [Span(100, 110)]
    assert evidence_hit([Span(105, 120)], gold) is True
    assert evidence_hit([Span(0, 60), Span(110, 120)], gold) is False  # touching is not overlapping
    assert evidence_hit([], gold) is False
    assert evidence_hit([Span(0, 10)], []) is None


def test_letter_prior_and_interval():
    assert letter_prior(["A", "A", "B", None]) == {"-": 0.25, "A": 0.5, "B": 0.25}
    lo, hi = wilson_interval(8, 10)
    assert 0.4 < lo < 0.8 < hi < 1.0
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_summary_counts_types_priors_costs_and_errors():
    rows = [row("1", "m", "A", "A", True), row("2", "m", "B", "A", False, qtype="count", forced=True),
            row("3", "m", "C", "C", True, evidence_hit=True), row("4", "m", None, "D", False, error="Boom",
                                                                   decided_by="error", cost={"seconds": 1.0}),
            row("5", "m", "A", "", None)]
    s = summarize(rows)
    assert (s.questions, s.scored, s.correct, s.errors, s.forced) == (5, 4, 2, 1, 1)
    assert s.accuracy == 0.5
    assert s.by_type["color"].correct == 2 and s.by_type["color"].n == 3 and s.by_type["count"].accuracy == 0.0
    assert s.gold_prior == {"A": 0.5, "C": 0.25, "D": 0.25}
    assert s.answer_prior["A"] == 0.4 and s.answer_prior["-"] == 0.2
    assert s.cost_per_question["captions_made"] == pytest.approx(12 / 5)
    assert s.captions_per_level == {"coarse": pytest.approx(8 / 5), "fine": pytest.approx(4 / 5)}
    assert s.evidence_hit_rate == 1.0 and s.decided_by == {"llm": 4, "error": 1}


def test_read_results_last_row_wins_and_torn_lines_are_skipped(tmp_path):
    path = tmp_path / "r.jsonl"
    lines = [json.dumps(row("1", "m", "A", "B", False)), json.dumps(row("1", "m", "B", "B", True)),
             json.dumps(row("1", "other", "A", "B", False)), '{"id": "2", "meth']
    path.write_text("\n".join(lines))
    rows = read_results(path)
    assert len(rows) == 2
    assert summarize_by_method(rows)["m"].correct == 1
    assert read_results(tmp_path / "missing.jsonl") == []


def test_report_writes_markdown_and_a_plot(tmp_path):
    a, b = tmp_path / "videolucy.jsonl", tmp_path / "uniform.jsonl"
    a.write_text("\n".join(json.dumps(row(str(i), "videolucy", "A", "A", True)) for i in range(3)))
    b.write_text("\n".join(json.dumps(row(str(i), "uniform", "B", "A", i == 0, qtype="count")) for i in range(3)))
    md = write_report([b, a], tmp_path / "out" / "report.md", title="Needles")
    text = md.read_text()
    assert text.startswith("# Needles")
    table = [line for line in text.splitlines() if line.startswith("| videolucy") or line.startswith("| uniform")]
    assert table[0].startswith("| videolucy | 3 | 3 | 100.0%")  # known methods in a fixed order
    assert "| uniform | 3 | 3 | 33.3%" in text
    assert "| count | – | 33.3% (1/3) |" in text
    assert "| gold | 100.0% | 0.0% |" in text
    png = md.with_suffix(".png")
    assert f"]({png.name})" in text
    with Image.open(png) as im:
        assert im.size[0] > 300 and im.size[1] > 200
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        write_report([tmp_path / "nope.jsonl"], tmp_path / "x.md")
