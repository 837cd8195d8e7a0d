"""End to end on real media, fully offline: real OCR captioner, the real 1.5B LLM (Qwen2.5-Coder on a loopback
llama.cpp server), real embedder, real store.

On the 15-minute haystack, the ukulele segment shows "Strings : D'Addario Pro Art Tenor J71" for only
~8 s. The offline profile's coarse level samples 1 fps but OCRs only frames that changed (issue 14), so
the caption is in the coarse memory at once; the LLM answers from it, citing the ukulele segment.
(With the old 2-frames-a-minute coarse level it was missed and only found by zooming.)
"""
from __future__ import annotations

import json

import pytest

from tests.conftest import HAYSTACK
from vidrecall.agent.evidence_vote import tokens
from vidrecall.api import VideoQA
from vidrecall.core.types import Span

VIDEO = HAYSTACK / "haystack_15min.mp4"
QUESTION = "Around 3:50 an on-screen caption names the brand of the strings. Which brand is it?"
OPTIONS = ["A. Martin", "B. Aquila", "C. D'Addario", "D. Elixir"]


def segment_of(source_clip: str) -> Span:
    path = HAYSTACK / "haystack_15min.segments.json"
    if not path.exists():
        pytest.skip(f"haystack segments missing: {path} (build_haystack.py writes it)")
    segments = json.loads(path.read_text())["segments"]
    seg = next(s for s in segments if s["source_clip"] == source_clip)
    return Span(seg["start_s"], seg["end_s"])


@pytest.mark.slow
def test_offline_agent_reads_the_short_caption_from_the_coarse_memory(tmp_path):
    if not VIDEO.exists():
        pytest.skip(f"shared haystack missing: {VIDEO}")
    ukulele = segment_of("vl2_00003491.mp4")
    with VideoQA("offline", store_dir=tmp_path / "store") as qa:
        answer = qa.ask(VIDEO, QUESTION, OPTIONS)
        coarse = qa.memory.nodes(answer.video_id, level="coarse")
    squashed = "".join(tokens(" ".join(n.text for n in coarse)))
    assert "daddario" in squashed  # change-aware 1 fps coarse sampling read the 8-second caption
    assert all(n.frame_times and len(n.frame_times) < n.frames for n in coarse)  # it OCR'd only changed frames

    assert answer.option == "C", answer.trajectory
    assert answer.decided_by in ("llm", "llm+evidence") and not answer.forced  # the LLM answered, not the vote
    assert answer.cost.malformed_outputs == 0
    assert any(Span(e.start, e.end).overlap(ukulele) > 0 for e in answer.evidence)
    assert answer.cost.captions_by_level.get("coarse") == 16
