"""Peak memory of indexing the coarse level (`Indexer.build`) over the 15-min haystack vs the same video 4x longer.

Memory must not grow with video length: frames are decoded one clip at a time and captions go straight
to SQLite/FAISS. Target: peak-RSS ratio (1 h / 15 min) <= 1.2. Each build runs in its own subprocess
(clean RSS), with a cheap captioner that really reads every frame (mean colour), so the figure is about
decoding and storage, not about a model. The 1-hour video is the haystack concatenated 4 times with
ffmpeg's concat demuxer (`-c copy`) in a temp dir.

    python benchmarks/bench_index_rss.py [--video PATH] [--times 4]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from scaling import peak_rss, repeat_video
from vidrecall.tools.captioners.base import ONE_AT_A_TIME

REPO = Path(__file__).resolve().parents[1]
HAYSTACK = REPO.parent / "shared" / "media" / "haystack" / "haystack_15min.mp4"
SAMPLE_EVERY_S = 0.02


class MeanColourCaptioner:
    """Reads every pixel of every frame (mean colour per frame): decoding cost without a model."""

    id = "bench-mean-colour"
    capacity = ONE_AT_A_TIME

    def caption(self, request):
        from vidrecall.core.types import CaptionResult, Usage

        means = [frame.reshape(-1, 3).mean(axis=0) for frame in request.frames.frames]
        words = ", ".join(f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in means[:5])
        return CaptionResult(f"{len(means)} frames; first colours {words}",
                             Usage(model=self.id, kind="vlm", images=len(means)))

    def caption_batch(self, requests):
        return [self.caption(r) for r in requests]

    def preflight(self):
        pass


def child(video: str, store: str) -> None:
    """Build the coarse level of one video in a fresh store; print one JSON line of figures."""
    from vidrecall.core.config import Config
    from vidrecall.indexing.indexer import Indexer
    from vidrecall.memory.embedder import load_embedder
    from vidrecall.memory.memory import VideoMemory

    memory = VideoMemory(Config(), embedder=load_embedder(), store_dir=store)
    indexer = Indexer(memory, MeanColourCaptioner())
    record = memory.register(video)
    memory.embedder.embed(["warm up the embedder before measuring"])
    with peak_rss(SAMPLE_EVERY_S) as rss:
        report = indexer.build(record, ["coarse"], speech=False).reports[0]
    baseline, peak = rss["baseline"], rss["peak"]
    indexer.close()
    memory.close()
    print(json.dumps({"duration_s": record.duration, "clips": report.clips, "frames": report.frames,
                      "build_s": report.seconds, "baseline_mb": baseline / 2**20, "peak_mb": peak / 2**20}))


def measure(video: Path, store: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(video), str(store)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"build of {video} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=HAYSTACK)
    parser.add_argument("--times", type=int, default=4)
    parser.add_argument("--child", nargs=2, metavar=("VIDEO", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if not args.video.exists():
        sys.exit(f"{args.video}: no such video; pass --video")
    with tempfile.TemporaryDirectory(prefix="vidrecall-rss-") as tmp:
        tmp = Path(tmp)
        long_video = repeat_video(args.video, args.times, tmp)
        rows = [(label, measure(path, tmp / f"store-{label}")) for label, path in
                (("short", args.video), (f"x{args.times}", long_video))]
    print(f"{'video':<8}{'duration':>10}{'clips':>7}{'frames':>8}{'build s':>9}{'base MB':>9}{'peak MB':>9}"
          f"{'peak-base':>11}")
    for label, r in rows:
        print(f"{label:<8}{r['duration_s']:>9.0f}s{r['clips']:>7}{r['frames']:>8}{r['build_s']:>9.1f}"
              f"{r['baseline_mb']:>9.0f}{r['peak_mb']:>9.0f}{r['peak_mb'] - r['baseline_mb']:>11.1f}")
    (_, short), (_, long) = rows
    print(f"peak RSS ratio {args.times}x / 1x: {long['peak_mb'] / short['peak_mb']:.3f} (target <= 1.2); "
          f"growth during build: {short['peak_mb'] - short['baseline_mb']:.1f} MB vs "
          f"{long['peak_mb'] - long['baseline_mb']:.1f} MB")


if __name__ == "__main__":
    main()
