"""The three indexing engines on one folder: serial, pipelined and a real local Ray store the same captions
(keys, texts, spans, parent links), and a Ray worker killed mid-run loses and duplicates nothing. Real decoding, real OCR (deterministic), real SQLite + FAISS.

One Ray instance for the module (startup costs 5-20 s on 2 shared cores)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import clip
from vidrecall.core.config import load_config
from vidrecall.indexing.engines import SerialEngine
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.pipelined import PipelinedEngine
from vidrecall.indexing.ray_engine import CRASH_ENV, CaptionerFactory, RayEngine, RaySettings
from vidrecall.memory.memory import VideoMemory
from vidrecall.tools.captioners.factory import make_captioner

pytestmark = pytest.mark.slow

LEVELS = [{"name": "coarse", "clip_seconds": 10, "frames_per_clip": 2, "max_pixels": 320 * 180, "prompt": "caption_coarse"},
          {"name": "fine", "clip_seconds": 5, "frames_per_clip": 1, "max_pixels": 320 * 180, "prompt": "caption_fine"}]
CLIPS = ["mdn_pig.mp4", "askany_yoga.mp4", "mdn_frog.mp4"]  # 6.5 s, 10 s, 8.3 s


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> list[Path]:
    bad = tmp_path_factory.mktemp("bad") / "truncated.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)  # an mp4 header and nothing else
    paths = [clip(n) for n in CLIPS]
    return [paths[0], bad, *paths[1:]]


def content(memory: VideoMemory) -> list[tuple]:
    """Everything a node means, without the row ids (which depend on commit order)."""
    keys = {n.id: n.key for v in memory.store.videos() for n in memory.store.nodes(v.id)}
    return sorted((n.key, n.video_id, n.level, n.start, n.end, n.text, keys.get(n.parent_id))
                  for v in memory.store.videos() for n in memory.store.nodes(v.id))


def test_serial_pipelined_and_ray_engines_store_the_same_captions(ray_local, files, tmp_path, embedder):
    config = load_config("offline", levels=LEVELS, speech={"source": "off"})
    runs = {}
    for name, engine in (("serial", SerialEngine()), ("pipelined", PipelinedEngine())):
        with VideoMemory(config, embedder, store_dir=tmp_path / name) as memory:
            results = Indexer(memory, make_captioner("ocr"), engine=engine).index(files, ("coarse", "fine"))
            runs[name] = (results, content(memory))
    with VideoMemory(config, embedder, store_dir=tmp_path / "ray") as memory:
        with RayEngine(CaptionerFactory("ocr"), RaySettings(workers=2, clips_per_task=2)) as engine:
            indexer = Indexer(memory, make_captioner("ocr"), engine=engine)
            distributed = indexer.index(files, ("coarse", "fine"))
            got = content(memory)
            again = indexer.index(files, ("coarse", "fine"))  # resumable: nothing left to do
        assert memory.index.ntotal == len(got)  # every caption embedded once
    (serial, expected), (pipelined, piped) = runs["serial"], runs["pipelined"]
    assert len(expected) == 3 + 6  # one coarse 10 s clip and two fine 5 s clips per file
    assert got == expected == piped  # same keys, texts, spans and parent links from every engine
    assert ([r.error is None for r in distributed] == [r.error is None for r in serial]
            == [r.error is None for r in pipelined] == [True, False, True, True])
    assert "truncated.mp4" in distributed[1].error
    assert [r.created for r in distributed] == [r.created for r in serial] == [r.created for r in pipelined]
    assert sum(r.created for r in again) == 0 and sum(r.reused for r in again) == len(got)
    assert all(row[5].startswith("Frames ") for row in got)  # real OCR captions, not placeholders
    assert all(row[6] is not None for row in got if row[2] == "fine")  # every fine caption found its coarse parent


def test_a_worker_killed_mid_run_is_restarted_and_every_clip_is_stored_once(ray_local, files, tmp_path,
                                                                            embedder, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ENV, str(marker))  # the first task any worker starts exits the process hard
    config = load_config("offline", levels=LEVELS[:1], speech={"source": "off"})
    good = [f for f in files if f.stat().st_size > 1000]
    with VideoMemory(config, embedder, store_dir=tmp_path / "store") as memory:
        with RayEngine(CaptionerFactory("ocr"), RaySettings(workers=2, clips_per_task=1)) as engine:
            results = Indexer(memory, make_captioner("ocr"), engine=engine).index(good, ("coarse",))
        nodes = [n for v in memory.store.videos() for n in memory.store.nodes(v.id)]
    assert marker.exists()  # a worker really died
    assert all(r.error is None for r in results)
    assert sorted((n.video_id, n.start) for n in nodes) == sorted(set((n.video_id, n.start) for n in nodes))
    assert len(nodes) == 3  # every coarse clip of the three files, once
    assert [r.created for r in results] == [1, 1, 1]
