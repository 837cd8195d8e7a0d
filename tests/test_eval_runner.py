"""The resumable runner over the shared haystack's real QA items, with scripted methods standing in for
VideoQA (the real end-to-end run is benchmarks/eval_haystack.py)."""
from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest

from conftest import HAYSTACK, clip
from vidrecall.core.result import Answer, Cost, Evidence, Step
from vidrecall.evaluation.loaders import load_items
from vidrecall.evaluation.runner import EvalError, make_method, run_eval
from vidrecall.evaluation.scoring import read_results
from vidrecall.core.types import Span


@pytest.fixture(scope="module")
def items():
    path = HAYSTACK / "haystack_15min.needle_qa.json"
    if not path.exists():
        pytest.skip(f"shared haystack missing: {path}")
    return list(load_items("haystack", path))


def scripted_answer(item, option: str, evidence=(), forced=False) -> Answer:
    text = next((o for o in item.options if o.startswith(option + ".")), option)
    return Answer(question=item.question, options=item.options, answer=text, option=option, confidence=0.8,
                  forced=forced, decided_by="llm", evidence=[Evidence(start=s, end=e) for s, e in evidence],
                  trajectory=[Step(index=0, node="recall", message="read memory", spans=[(0.0, 60.0)], level="coarse"),
                              Step(index=1, node="answer", message="answered")],
                  cost=Cost(frames_decoded=4, captions_by_level={"coarse": 2}, llm_calls=1, tokens_in=50, seconds=0.5),
                  strategy="scripted")


class Scripted:
    """Answers each item the gold letter when told to, else "A"; can die or fail on chosen items."""

    def __init__(self, name="scripted", right=(), die_after=None, fail_on=()):
        self.name, self.right, self.die_after, self.fail_on = name, set(right), die_after, set(fail_on)
        self.asked: list[str] = []

    def answer(self, item):
        if self.die_after is not None and len(self.asked) >= self.die_after:
            raise KeyboardInterrupt  # the process is killed mid-run
        self.asked.append(item.id)
        if item.id in self.fail_on:
            raise RuntimeError("captioner exploded\nsecond line")
        gold = item.gold_spans[0] if item.gold_spans else None
        return scripted_answer(item, item.answer if item.id in self.right else "A",
                               evidence=[(gold.start, gold.end)] if gold and item.id in self.right else [(0, 5)],
                               forced=item.id == "needle_count")


def test_rows_carry_answer_gold_correctness_evidence_and_cost(items, tmp_path):
    out = tmp_path / "r.jsonl"
    right = {"needle_color_frog", "needle_order_last"}
    summary = run_eval(items, None, Scripted(right=right), out, progress=False)
    assert (summary.ran, summary.errors, summary.scored) == (7, 0, 7)
    rows = {r["id"]: r for r in read_results(out)}
    assert set(rows) == {it.id for it in items}
    frog = rows["needle_color_frog"]
    assert (frog["option"], frog["gold"], frog["correct"], frog["evidence_hit"]) == ("B", "B", True, True)
    assert frog["trajectory"] == {"steps": 2, "nodes": ["recall", "answer"], "spans": [[0.0, 60.0]], "levels": ["coarse"]}
    assert frog["cost"]["captions_by_level"] == {"coarse": 2} and frog["cost"]["llm_calls"] == 1
    pig = rows["needle_identify_pig"]
    assert (pig["correct"], pig["evidence_hit"]) == (False, False)
    assert rows["needle_absent_rabbit"]["evidence_hit"] is None  # no gold span to hit
    assert rows["needle_count"]["forced"] is True
    assert summary.correct == sum(r["correct"] for r in rows.values()) == 2 + (rows["needle_absent_rabbit"]["gold"] == "A")


def test_a_run_killed_after_k_items_resumes_with_the_rest(items, tmp_path):
    out = tmp_path / "r.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_eval(items, None, Scripted(die_after=3), out, progress=False)
    assert [r["id"] for r in read_results(out)] == [it.id for it in items[:3]]
    second = Scripted()
    summary = run_eval(items, None, second, out, progress=False)
    assert second.asked == [it.id for it in items[3:]]
    assert (summary.skipped_done, summary.ran) == (3, 4)
    assert sorted(r["id"] for r in read_results(out)) == sorted(it.id for it in items)
    third = Scripted()
    assert run_eval(items, None, third, out, progress=False).ran == 0 and third.asked == []


def test_a_torn_last_line_is_run_again(items, tmp_path):
    out = tmp_path / "r.jsonl"
    run_eval(items[:2], None, Scripted(), out, progress=False)
    with open(out, "a") as fh:
        fh.write('{"id": "%s", "method": "scri' % items[2].id)
    again = Scripted()
    run_eval(items[:3], None, again, out, progress=False)
    assert again.asked == [items[2].id]


def test_a_failing_question_is_an_error_row_and_can_be_retried(items, tmp_path):
    out = tmp_path / "r.jsonl"
    bad = items[1].id
    summary = run_eval(items, None, Scripted(fail_on={bad}), out, progress=False)
    assert (summary.ran, summary.errors) == (7, 1)
    rows = {r["id"]: r for r in read_results(out)}
    assert rows[bad]["error"] == "RuntimeError: captioner exploded"
    assert rows[bad]["correct"] is False and rows[bad]["decided_by"] == "error"
    assert run_eval(items, None, Scripted(), out, progress=False).ran == 0
    retry = Scripted(right={bad})
    assert run_eval(items, None, retry, out, progress=False, retry_errors=True).ran == 1 and retry.asked == [bad]
    fixed = {r["id"]: r for r in read_results(out)}[bad]
    assert fixed["error"] is None and fixed["correct"] is True


def test_methods_share_one_file_without_mixing(items, tmp_path):
    out = tmp_path / "r.jsonl"
    run_eval(items[:2], None, Scripted(name="one"), out, progress=False)
    second = Scripted(name="two")
    assert run_eval(items[:2], None, second, out, progress=False).ran == 2
    assert sorted((r["method"], r["id"]) for r in read_results(out)) == sorted(
        (m, it.id) for m in ("one", "two") for it in items[:2])


def test_items_without_a_video_are_listed_not_run(items, tmp_path):
    no_video = [dataclasses.replace(items[0], video_path=None), items[1]]
    method = Scripted()
    summary = run_eval(no_video, None, method, tmp_path / "r.jsonl", progress=False)
    assert (summary.skipped_no_video, summary.ran) == (1, 1) and method.asked == [items[1].id]
    assert "1 without video" in summary.line()


class FakeVideoQA:
    """Stands in for vidrecall.api.VideoQA: records ask() calls, answers "B"."""

    def __init__(self, strategy: str):
        self.config = SimpleNamespace(strategy=strategy)
        self.calls: list[tuple] = []

    def ask(self, video, question, options=None, *, session_id=None):
        self.calls.append((video, question, options))
        return Answer(question=question, options=options or [], answer="B", option="B", strategy=self.config.strategy)


def test_agent_methods_call_videoqa_ask_and_factories_load_lazily(items, tmp_path):
    qa = FakeVideoQA("default")
    summary = run_eval(items[:2], lambda: qa, "default", tmp_path / "d.jsonl", progress=False)
    assert summary.ran == 2
    assert qa.calls[0] == (items[0].video_path, items[0].question, items[0].options)
    rows = read_results(tmp_path / "d.jsonl")
    assert {r["method"] for r in rows} == {"default"} and rows[0]["strategy"] == "default"

    def must_not_build():
        raise AssertionError("the VideoQA was built although nothing was left to run")

    assert run_eval(items[:2], must_not_build, "default", tmp_path / "d.jsonl", progress=False).ran == 0
    assert make_method("default", qa).name == "default"


def test_unknown_method_is_a_clear_error(items, tmp_path):
    with pytest.raises(EvalError, match="unknown method 'magic'"):
        run_eval(items, None, "magic", tmp_path / "r.jsonl")
    with pytest.raises(EvalError, match="unknown method 'magic'"):
        make_method("magic", None)


def test_rows_are_plain_json(items, tmp_path):
    out = tmp_path / "r.jsonl"
    run_eval(items[:1], None, Scripted(), out, progress=False)
    row = json.loads(out.read_text().splitlines()[0])
    assert {"id", "method", "answer", "option", "gold", "correct", "confidence", "forced", "decided_by", "evidence",
            "trajectory", "cost", "error"} <= set(row)


# --- baselines and the agent over a real VideoQA (real clip, SQLite, FAISS, embedder; scripted models) ----------

PEOPLE = "intel_one-by-one-person-detection.mp4"  # 139.4 s: 14 fine clips of 10 s
CARS = "intel_car-detection.mp4"  # 30.2 s: 3 fine clips
NEEDLE = Span(70.0, 80.0)  # where the scripted captioner "sees" the frog in PEOPLE
CAR_NEEDLE = Span(10.0, 20.0)  # ... and in CARS (no uniform pick of PEOPLE overlaps it)


@pytest.fixture
def real_qa(store_dir, embedder):
    from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
    from vidrecall.api import VideoQA

    def text_for(span, level, instruction):
        if level != "coarse" and (span.overlap(NEEDLE) > 0 or span.overlap(CAR_NEEDLE) > 0):
            return "A small bright green toy frog sits on the wooden table."
        return f"An empty room with a white wall and a wooden floor ({level} {span.label()})."

    llm = ScriptedChatModel(defaults={"answer": {"answer": "A", "confidence": 0.3},
                                      "final_answer": {"answer": "A"}, "localize": {"clips": [2]},
                                      "videolucy_answer": {"Confidence": True, "Answer": "B", "Time Period": [[60, 120]]},
                                      "videolucy_final": {"Answer": "B"}})
    captioner = ScriptedCaptioner(text_for)
    qa = VideoQA("offline-tiny", llm=llm, vlm=captioner, embedder=embedder, store_dir=store_dir, levels=fast_levels())
    yield qa, captioner, llm
    qa.close()


def frog_item(video: str, needle: Span):
    from vidrecall.evaluation.items import QAItem

    return QAItem(id="frog", video_id=video, video_path=str(clip(video)),
                  question="What colour is the toy that appears on the table?",
                  options=["A. Red", "B. Green", "C. Blue", "D. Yellow"], answer="B", question_type="colour",
                  gold_spans=[needle], source="test")


@pytest.fixture
def people_item():
    return frog_item(PEOPLE, NEEDLE)


def test_uniform_baseline_captions_evenly_and_the_evidence_overrules_a_wrong_llm(real_qa, people_item, tmp_path):
    qa, captioner, llm = real_qa
    out = tmp_path / "u.jsonl"
    summary = run_eval([people_item], qa, "uniform", out, progress=False, method_options={"clips": 3})
    assert summary.errors == 0, read_results(out)[0].get("error")
    fine = [span for level, span, _, _ in captioner.captioned if level == "fine"]
    assert [(s.start, s.end) for s in fine] == [(20.0, 30.0), (70.0, 80.0), (110.0, 120.0)]
    row = read_results(out)[0]
    assert (row["option"], row["correct"], row["decided_by"]) == ("B", True, "evidence")
    assert row["evidence_hit"] is True
    assert row["cost"]["captions_by_level"] == {"fine": 3} and row["cost"]["llm_calls"] == 1
    assert llm.roles() == ["answer"]  # one LLM call, with the agent's own answer prompt


def test_dense_baseline_captions_everything_and_retrieves_when_it_does_not_fit(real_qa):
    from vidrecall.evaluation.baselines import DenseBaseline

    qa, captioner, llm = real_qa
    item = frog_item(CARS, CAR_NEEDLE)
    small = dataclasses.replace(qa.config, context_tokens=40)
    view = SimpleNamespace(memory=qa.memory, indexer=qa.indexer, config=small, backbones=qa.backbones)
    answer = DenseBaseline(view).answer(item)
    assert sorted(s.start for lv, s, _, _ in captioner.captioned if lv == "fine") == [0.0, 10.0, 20.0]
    assert answer.cost.captions_by_level == {"fine": 3}
    assert "retrieval" in answer.trajectory[0].message
    assert answer.option == "B" and any(Span(e.start, e.end).overlap(CAR_NEEDLE) > 0 for e in answer.evidence)
    again = DenseBaseline(qa).answer(item)  # everything is in memory now: nothing captioned again
    assert again.cost.captions_by_level == {} and again.cost.captions_reused == 3
    assert "every caption" in again.trajectory[0].message


def test_an_agent_method_with_another_strategy_shares_the_backbones(real_qa, people_item, tmp_path):
    qa, captioner, llm = real_qa
    out = tmp_path / "v.jsonl"
    summary = run_eval([people_item], qa, "videolucy", out, progress=False)
    row = read_results(out)[0]
    assert summary.errors == 0, row.get("error")
    assert row["method"] == "videolucy" and row["strategy"] == "videolucy"
    assert any(role.startswith("videolucy") for role in llm.roles())
    assert row["trajectory"]["steps"] >= 1 and row["option"] == "B"


def test_a_videoqa_factory_is_built_from_the_profile_and_backbones(store_dir, embedder, tmp_path):
    from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel
    from vidrecall.api import VideoQA

    item = frog_item(CARS, CAR_NEEDLE)
    captioner = ScriptedCaptioner(lambda span, level, instr: "a green toy frog" if span.overlap(CAR_NEEDLE) else "cars")
    llm = ScriptedChatModel(defaults={"answer": {"answer": "B", "confidence": 0.9}})
    out = tmp_path / "cli.jsonl"
    summary = run_eval([item], lambda: VideoQA("offline", store_dir=store_dir, llm=llm, vlm=captioner,
                                               embedder=embedder), method="uniform", out_jsonl=out, progress=False)
    assert summary.errors == 0, read_results(out)[0].get("error")
    assert read_results(out)[0]["option"] == "B"
    assert (store_dir / "memory.db").exists()  # the store it was told to use
    with pytest.raises(EvalError, match="needs out_jsonl"):
        run_eval([item], method="uniform")
    with pytest.raises(EvalError, match="needs a VideoQA"):
        run_eval([item], method="uniform", out_jsonl=out)
