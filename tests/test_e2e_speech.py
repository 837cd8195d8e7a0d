"""End to end, offline, no doubles: a >= 10-minute built haystack whose only trace of the answer is a
sentence said once (espeak-ng) at an unnamed time. OCR captioner, the packaged Whisper, the 1.5B LLM,
MiniLM, SQLite, FAISS. Kept cheap: a one-frame coarse level and one round of budget."""
from __future__ import annotations

import pytest

from conftest import CLIPS, clip
from speechclips import speech_haystack
from vidrecall.api import VideoQA

LEVELS = [{"name": "coarse", "clip_seconds": 60, "frames_per_clip": 1, "max_pixels": 320 * 180,
           "prompt": "caption_coarse"},
          {"name": "fine", "clip_seconds": 10, "frames_per_clip": 1, "max_pixels": 320 * 180, "prompt": "caption_fine"}]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~2-4 min on 2 free cores; far more when the cores are shared
def test_offline_agent_answers_what_was_said_in_a_ten_minute_video(tmp_path_factory, embedder):
    clip("askany_yoga.mp4")
    work = tmp_path_factory.mktemp("e2e_speech")
    spec, lines = speech_haystack(CLIPS, work / "long.mp4", target_seconds=620)
    assert spec.duration >= 600
    question = next(q for q in spec.questions if q["id"] == "said_team_meeting")
    assert not any(ch.isdigit() for ch in question["question"])  # names no time
    said = next(x for x in lines if "Thursday" in x.text)
    with VideoQA("offline", embedder=embedder, store_dir=work / "store", levels=LEVELS,
                 budgets={"max_iterations": 1, "max_captions": 6, "max_llm_tokens": 20000, "max_seconds": 600}) as qa:
        answer = qa.ask(spec.video, question["question"], question["options"])
    assert answer.option == question["answer"], answer.reason
    assert answer.cost.speech_audio_s >= 600 and answer.cost.asr_calls >= 2
    cited = [e for e in answer.evidence if e.level == "speech"]
    assert any(e.start < said.end_s and said.start_s < e.end and "thursday" in e.text.lower() for e in cited)
