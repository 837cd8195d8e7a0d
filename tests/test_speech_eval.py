"""Evaluation with speech: the haystack's spoken questions load, each method runs with and without
speech over one store, and the report shows spoken accuracy and what hearing cost."""
from __future__ import annotations

import pytest

from dataclasses import replace

from vidrecall.agent.testing import ScriptedCaptioner, ScriptedChatModel, fast_levels
from vidrecall.api import VideoQA
from vidrecall.evaluation.loaders import load_items
from vidrecall.evaluation.report import write_report
from vidrecall.evaluation.runner import make_method, run_eval


@pytest.mark.slow
def test_with_and_without_speech_runs_and_the_report_shows_it(speech_clip, embedder, tmp_path):
    spec, _ = speech_clip
    items = load_items("haystack", spec.qa_path, video_dir=spec.video.parent)
    spoken = [i for i in items if i.question_type in ("said", "said_order", "said_when", "never_said")]
    assert {i.question_type for i in spoken} == {"said", "said_order", "said_when", "never_said"}
    picked = [next(i for i in spoken if i.id == "said_vault_password"), next(i for i in spoken if i.id == "never_said")]
    llm = ScriptedChatModel(defaults={"answer": {"answer": "A", "confidence": 0.9, "clips": [1]}})
    hearing = VideoQA("offline-tiny", llm=llm, vlm=ScriptedCaptioner(), embedder=embedder, store_dir=tmp_path / "store",
                      levels=fast_levels())
    deaf = VideoQA(config=hearing.config.replace(speech=replace(hearing.config.speech, source="off")), llm=llm,
                   vlm=ScriptedCaptioner(), embedder=embedder)
    run_eval(picked, hearing, method="default", out_jsonl=tmp_path / "default.jsonl", progress=False)
    prompts_heard = [p for r, p in llm.calls if r == "answer"]
    llm.calls.clear()
    twin = make_method("default", deaf)
    twin.name = "default-nospeech"
    run_eval(picked, None, method=twin, out_jsonl=tmp_path / "deaf.jsonl", progress=False)
    prompts_deaf = [p for r, p in llm.calls if r == "answer"]
    hearing.close()
    deaf.close()
    assert any("- Speech from" in p and "vault is pineapple" in p.lower() for p in prompts_heard)
    assert prompts_deaf and not any("Speech" in p or "vault is pineapple" in p.lower() for p in prompts_deaf)

    report = write_report([tmp_path / "default.jsonl", tmp_path / "deaf.jsonl"], tmp_path / "report.md").read_text()
    section = report.split("## Speech")[1].split("\n## ")[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| default")}
    assert set(rows) == {"default", "default-nospeech"}
    audio = lambda row: float(row.split("|")[4].replace(",", ""))  # noqa: E731
    assert audio(rows["default"]) > 40 and audio(rows["default-nospeech"]) == 0  # first question paid for hearing
    assert "| said |" in report and "| never_said |" in report
