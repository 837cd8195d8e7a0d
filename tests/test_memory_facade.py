"""What callers above memory/ need comes from VideoMemory itself (nodes by id, counts, and the rendered memory
with the spans its entries are numbered by: the agent reads "clip N" through them) and, for the clips still to
caption, from the Indexer over it."""
from __future__ import annotations

from vidrecall.agent.testing import ScriptedCaptioner, fast_levels
from vidrecall.core.config import load_config
from vidrecall.core.types import SPEECH_LEVEL, MemoryNode, Span
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.plans import level_grid
from vidrecall.memory.memory import VideoMemory
from videogen import short_clip


def test_the_facade_answers_what_callers_used_to_read_from_the_store(tmp_path, store_dir, embedder) -> None:
    config = load_config("offline", levels=fast_levels(), store_dir=str(store_dir))
    video_file = short_clip(tmp_path, "grey.mp4", seconds=25.0, fps=2)
    with VideoMemory(config, embedder=embedder) as memory:
        indexer = Indexer(memory, ScriptedCaptioner(lambda span, level, instr: f"{level} {span.start:g}"))
        video = memory.register(video_file)
        assert indexer.missing_clips(video, "coarse") == level_grid(config, video.duration, "coarse")
        indexer.build(video, ["coarse"], speech=False)
        assert indexer.missing_clips(video, "coarse") == [] and len(indexer.missing_clips(video, "fine")) == 3
        fine_grid = level_grid(config, video.duration, "fine")
        fine, _ = indexer.caption(memory, video.id, "fine", fine_grid[1])
        coarse = memory.nodes(video.id, "coarse")[0]
        assert indexer.missing_clips(video, "fine") == [s for i, s in enumerate(fine_grid) if i != 1]
        assert memory.nodes_by_id([fine.id, coarse.id, 10**9, fine.id]) == [fine, coarse]
        assert (memory.count(video.id), memory.count(video.id, "fine")) == (2, 1)
        assert [v.id for v in memory.videos()] == [video.id]
        indexer.close()


def test_render_numbers_the_described_spans_and_not_the_speech() -> None:
    def node(level: str, depth: int, start: float, end: float, text: str, i: int) -> MemoryNode:
        return MemoryNode(video_id="v", level=level, depth=depth, start=start, end=end, text=text, captioner="c",
                          prompt_hash="p", id=i)

    nodes = [node(SPEECH_LEVEL, 9, 1, 3, "hello there", 1), node("coarse", 0, 0, 60, "a kitchen", 2),
             node("fine", 1, 10, 20, "a kettle", 3), node("coarse", 0, 60, 120, "a garden", 4),
             node(SPEECH_LEVEL, 9, 125, 128, "goodbye", 5), node("coarse", 0, 120, 130, "a gate", 6)]
    rendered = VideoMemory.render(nodes, 130.0)
    assert rendered.clips == [Span(0, 60), Span(60, 120), Span(120, 130)]
    assert rendered.clip_span(2) == Span(60, 120) and rendered.clip_span(4) is None
    assert "2. Time Period: from 60s to 120s" in rendered.text
    # a tight budget drops entries but never renumbers them
    assert VideoMemory.render(nodes, 130.0, max_tokens=60).clips == rendered.clips
