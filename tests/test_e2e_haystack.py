"""End to end on real media, fully offline: real OCR captioner, real SmolLM2, real embedder, real store.

On the 15-minute haystack, the ukulele segment shows "Strings : D'Addario Pro Art Tenor J71" for only
~8 s. The offline profile's coarse memory (a frame every 30 s) misses it; the agent must zoom into the
right minute, read it at the fine level, and answer from that evidence.
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
    segments = json.loads((HAYSTACK / "haystack_15min.segments.json").read_text())["segments"]
    seg = next(s for s in segments if s["source_clip"] == source_clip)
    return Span(seg["start_s"], seg["end_s"])


@pytest.mark.slow
def test_offline_agent_zooms_into_the_short_caption_and_reads_it(tmp_path):
    if not VIDEO.exists():
        pytest.skip(f"shared haystack missing: {VIDEO}")
    ukulele = segment_of("vl2_00003491.mp4")
    with VideoQA("offline", store_dir=tmp_path / "store") as qa:
        answer = qa.ask(VIDEO, QUESTION, OPTIONS)
        coarse = qa.memory.nodes(answer.video_id, level="coarse")
    squashed = "".join(tokens(" ".join(n.text for n in coarse)))
    assert "daddario" not in squashed  # the coarse memory alone cannot answer

    zooms = [s for s in answer.trajectory if s.node == "zoom"]
    assert zooms and any(Span(*span).overlap(ukulele) > 0 for z in zooms for span in z.spans)
    assert answer.option == "C", answer.trajectory
    assert answer.decided_by in ("evidence", "llm+evidence") and not answer.forced
    fine_evidence = [e for e in answer.evidence if e.level != "coarse"]
    assert fine_evidence and all(Span(e.start, e.end).overlap(ukulele) > 0 for e in fine_evidence)
    assert answer.cost.captions_by_level.get("coarse") == 16 and answer.cost.captions_by_level.get("fine", 0) > 0
