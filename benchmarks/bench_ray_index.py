"""Indexing wall time: in-process (the default pipelined engine) vs `--engine ray` with N captioner workers, same clips, same
OCR captioner (deterministic), fresh stores; the stores are checked to hold the same keys and texts.

Ray's start-up is timed apart from the indexing. On this 2-core machine the ratio is bounded by the
cores (and by whatever else runs): the point is that the engine adds little overhead and scales with
workers where there are cores/GPUs/servers for them.

    python benchmarks/bench_ray_index.py [--workers 2] [--clips a.mp4 b.mp4 ...]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from vidrecall.core.config import load_config
from vidrecall.indexing.indexer import Indexer
from vidrecall.indexing.ray_engine import CaptionerFactory, RayEngine, RaySettings
from vidrecall.memory.memory import VideoMemory
from vidrecall.tools.captioners.factory import make_captioner

CLIPS = Path(os.environ.get("VIDRECALL_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "media" / "clips"
DEFAULT = ["mdn_pig.mp4", "mdn_frog.mp4", "mdn_elf.mp4", "askany_yoga.mp4", "askany_jesse_dance.mp4",
           "moviepy_big_buck_bunny_0_30.webm", "intel_car-detection.mp4", "moviepy_test_video.mp4"]
LEVELS = [{"name": "coarse", "clip_seconds": 10, "frames_per_clip": 2, "max_pixels": 320 * 180, "prompt": "caption_coarse"},
          {"name": "fine", "clip_seconds": 5, "frames_per_clip": 1, "max_pixels": 320 * 180, "prompt": "caption_fine"}]


def content(memory) -> list[tuple]:
    return sorted((n.key, n.text) for v in memory.store.videos() for n in memory.store.nodes(v.id))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clips", nargs="+", default=DEFAULT)
    args = ap.parse_args()
    files = [CLIPS / c for c in args.clips]
    config = load_config("offline", levels=LEVELS, speech={"source": "off"})
    levels = ("coarse", "fine")
    with tempfile.TemporaryDirectory() as tmp:
        with VideoMemory(config, store_dir=Path(tmp) / "serial") as memory:
            captioner = make_captioner("ocr")
            captioner.preflight()
            indexer = Indexer(memory, captioner)
            t = time.perf_counter()
            results = indexer.index(files, levels)
            serial_s = time.perf_counter() - t
            serial = content(memory)
            indexer.close()
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        init_s = time.perf_counter() - t
        with VideoMemory(config, store_dir=Path(tmp) / "ray") as memory, \
                RayEngine(CaptionerFactory("ocr"), RaySettings(workers=args.workers, clips_per_task=2)) as engine:
            indexer = Indexer(memory, make_captioner("ocr"), engine=engine)
            t = time.perf_counter()
            ray.get([w.pid.remote() for w in engine._workers(ray, indexer.captioner.id)])  # actors up, OCR loaded
            actors_s = time.perf_counter() - t
            t = time.perf_counter()
            indexer.index(files, levels)
            ray_s = time.perf_counter() - t
            distributed = content(memory)
            indexer.close()
        ray.shutdown()
    clips = sum(r.created for r in results)
    print(f"{len(files)} videos, {clips} clips (coarse 10 s x 2 frames + fine 5 s x 1 frame, OCR), {os.cpu_count()} CPUs")
    print(f"in-process:            {serial_s:6.1f} s")
    print(f"ray, {args.workers} workers:        {ray_s:6.1f} s  (+ ray.init {init_s:.1f} s, actors ready {actors_s:.1f} s)")
    print(f"speed-up (indexing only): {serial_s / ray_s:.2f}x; including start-up: "
          f"{serial_s / (ray_s + init_s + actors_s):.2f}x")
    print(f"stores identical (keys + texts): {serial == distributed} ({len(serial)} captions)")


if __name__ == "__main__":
    main()
