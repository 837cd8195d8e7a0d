"""Does indexing keep a GPU server busy? Coarse pass of the 15-min haystack against a loopback server that
behaves like one: k requests served in parallel (more wait in line), each taking base + per_frame x frames.

    python benchmarks/bench_pipeline.py [--k 4] [--base 0.5] [--per-frame 0.1] [--video ...]

The defaults model Qwen2.5-VL-7B on one GPU under vLLM with 4 requests batched: a 60-frame coarse clip
(~7.7k visual tokens as images) costs about 6.5 s (prefill, then ~256 tokens of decoding).

Runs the serial engine (indexing/engines.py: one clip after another; the old group-wise path, which decoded k
clips, sent them and waited for the slowest, is gone) and the pipelined engine (indexing/pipelined.py), each on a
fresh store with the real OpenAI-compatible captioner (JPEG frames over
HTTP) and the real embedder, and prints for both: busy fraction of the server's k slots over the pass
(goal >= 90 %), and wall time vs the ideal (total service time / k; goal <= 1.15x).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakeserver import FakeOpenAIServer, RecordedRequest, Reply  # noqa: E402
from vidrecall.core.config import Config, Level  # noqa: E402
from vidrecall.indexing.engines import SerialEngine  # noqa: E402
from vidrecall.indexing.indexer import Indexer  # noqa: E402
from vidrecall.indexing.pipelined import PipelinedEngine  # noqa: E402
from vidrecall.memory.embedder import load_embedder  # noqa: E402
from vidrecall.memory.memory import VideoMemory  # noqa: E402
from vidrecall.tools.captioners.factory import make_captioner  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "media" / "haystack" / "haystack_15min.mp4"


@dataclass
class GpuLikeServer:
    """k slots; a request holds one for base + per_frame x (images or video frames) seconds."""

    k: int
    base_s: float
    per_frame_s: float
    busy: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each service
    _slots: threading.Semaphore = None  # type: ignore[assignment]
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._slots = threading.Semaphore(self.k)

    def respond(self, request: RecordedRequest) -> Reply:
        frames = len(request.image_urls()) or 60 * len(request.video_urls())
        with self._slots:
            start = time.perf_counter()
            time.sleep(self.base_s + self.per_frame_s * frames)
            end = time.perf_counter()
        with self._lock:
            self.busy.append((start, end))
        return Reply(content=f"A clip of {frames} frames.")


def one_pass(video: Path, k: int, base: float, per_frame: float, pipelined: bool, embedder) -> dict:
    gpu = GpuLikeServer(k, base, per_frame)
    config = Config(levels=(Level("coarse", 60, fps=1.0, max_pixels=128 * 28 * 28, prompt="caption_coarse"),))
    with FakeOpenAIServer(responder=gpu.respond) as server, tempfile.TemporaryDirectory() as store:
        captioner = make_captioner("openai-compatible:gpu-like", {"base_url": server.base_url,
                                                                  "max_concurrency": k, "timeout_s": 600})
        with VideoMemory(config, embedder, store) as memory:
            indexer = Indexer(memory, captioner, engine=PipelinedEngine() if pipelined else SerialEngine())
            record = memory.register(video)
            started = time.perf_counter()
            report = indexer.build(record, ["coarse"], speech=False).reports[0]
            wall = time.perf_counter() - started
            indexer.close()
    service = sum(end - start for start, end in gpu.busy)
    return {"wall": wall, "service": service, "busy": service / (k * wall), "ideal": service / k,
            "clips": report.created, "frames": report.frames_sent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--k", type=int, default=4, help="requests the server runs in parallel")
    parser.add_argument("--base", type=float, default=0.5, help="seconds per request")
    parser.add_argument("--per-frame", type=float, default=0.1, help="seconds per frame of a request")
    args = parser.parse_args()
    embedder = load_embedder()
    embedder.embed(["warm up"])
    print(f"{args.video.name}: coarse 60 s clips at 1 fps; server k={args.k}, "
          f"{args.base:g} s + {args.per_frame:g} s/frame per request")
    results = {}
    for name, pipelined in (("serial engine", False), ("pipelined engine", True)):
        r = one_pass(args.video, args.k, args.base, args.per_frame, pipelined, embedder)
        results[name] = r
        print(f"  {name:20s} {r['clips']} clips, {r['frames']} frames: wall {r['wall']:6.1f} s, ideal "
              f"{r['ideal']:6.1f} s -> {r['wall'] / r['ideal']:.2f}x ideal, server busy {r['busy']:.1%}")
    before, after = results["serial engine"], results["pipelined engine"]
    print(f"busy fraction serial -> pipelined: {before['busy']:.1%} -> {after['busy']:.1%} (goal >= 90 %); "
          f"wall/ideal pipelined {after['wall'] / after['ideal']:.2f}x (goal <= 1.15x); "
          f"speed-up {before['wall'] / after['wall']:.2f}x")


if __name__ == "__main__":
    main()
