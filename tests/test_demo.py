"""The README's main job, end to end with the real offline brain: the 1.5B model on a loopback llama.cpp
server, real OCR, real Whisper, real store. Both questions are answered by the LLM, not by the vote."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import CLIPS


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_demo_answers_both_questions_by_the_llm(tmp_path, capsys):
    if not CLIPS.is_dir() or not shutil.which("espeak-ng"):
        pytest.skip("the demo's sample needs the shared clips and espeak-ng")
    from vidrecall.demo import run_demo

    results = run_demo(CLIPS, tmp_path / "sample.mp4", store_dir=str(tmp_path / "store"))
    shown = capsys.readouterr().out
    assert len(results) == 2
    for right, answer in results:
        assert answer.option == right, answer.trajectory
        assert answer.decided_by in ("llm", "llm+evidence", "times") and not answer.forced
        assert answer.cost.llm_calls >= 1 and answer.cost.malformed_outputs == 0  # every decision parsed
        assert "qwen2.5-coder-1.5b" in {c["model"].removeprefix("llamacpp:")
                                        for s in answer.trajectory for c in s.model_calls if c["kind"] == "llm"}
    assert "repetitive model output" not in shown and "Answer: " in shown
    assert results[1][1].cost.tokens_in_cached > 0  # the second question reused the memory's KV prefix
