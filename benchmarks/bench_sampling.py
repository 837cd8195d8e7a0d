"""Frame-sampling throughput and memory of tools/video.py.

1. Throughput: sampling a whole file at 1 fps in 60 s spans (what building the coarse memory does),
   as a ratio to ffmpeg decoding the whole file's video to nowhere (`ffmpeg -an -i FILE -f null -`),
   measured in the same run. Ratio >= 1: our sampling is faster than one full decode (the target).
2. Memory: peak RSS of a fresh process sampling the 15-min haystack at 1 fps in 60 s spans, against
   the same on a 4x-long video (the haystack 4 times over, joined with ffmpeg's concat demuxer and
   `-c copy` in a temp dir). Ratio <= 1.2: memory stays flat as videos get longer (the target).

Run: python benchmarks/bench_sampling.py [--backends pyav,decord] [--skip-rss]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg
from scaling import peak_rss, repeat_video

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
HAYSTACK = SHARED / "media" / "haystack" / "haystack_15min.mp4"
CLIPS = [SHARED / "media" / "clips" / name for name in (
    "intel_one-by-one-person-detection.mp4",  # 139 s, h264 768x432 10 fps
    "vl2_00003491.mp4",  # 60 s, h264 640x360 60 fps
    "moviepy_big_buck_bunny_0_30.webm",  # 30 s, vp8 1280x720
    "deb-opencv_vtest.avi",  # 80 s, msmpeg4v3 768x576
)]
SPAN_SECONDS = 60.0
SAMPLE_FPS = 1.0


def ffmpeg_decode_seconds(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-an", "-i", str(path),
                    "-f", "null", "-"], check=True)
    return time.perf_counter() - start


def sample_whole(path: Path, backend: str) -> tuple[float, int]:
    """Seconds to open the file and sample all of it at SAMPLE_FPS in SPAN_SECONDS spans; frames got."""
    from vidrecall.tools.video import VideoReader
    from vidrecall.core.types import Span

    start, frames = time.perf_counter(), 0
    with VideoReader(path, backend=backend) as reader:
        for span in Span(0.0, reader.info.duration).split(SPAN_SECONDS):
            frames += len(reader.sample(span, fps=SAMPLE_FPS))
    return time.perf_counter() - start, frames


def child_peak_rss(path: Path, backend: str) -> dict:
    """Run sample_whole in a fresh interpreter: its RSS just before sampling and the peak while sampling."""
    out = subprocess.run([sys.executable, __file__, "--child", str(path), backend], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child_main(path: str, backend: str) -> None:
    from vidrecall.tools.video import VideoReader

    with VideoReader(path, backend=backend):  # imports and codec libraries count in the baseline
        pass
    with peak_rss() as rss:
        seconds, frames = sample_whole(Path(path), backend)
    baseline, peak = rss["baseline"], rss["peak"]
    print(json.dumps({"baseline_mib": baseline / 2**20, "peak_mib": peak / 2**20, "seconds": seconds,
                      "frames": frames}))


def throughput_table(backends: list[str]) -> None:
    print(f"Throughput: sampling at {SAMPLE_FPS:g} fps in {SPAN_SECONDS:g} s spans vs ffmpeg full video decode")
    print(f"{'file':42s} {'dur s':>7s} {'ffmpeg s':>9s} " + " ".join(f"{b + ' s':>9s} {'ratio':>6s}" for b in backends))
    from vidrecall.tools.video import probe

    for path in [*CLIPS, HAYSTACK]:
        if not path.exists():
            print(f"{path.name:42s} missing, skipped")
            continue
        reference = ffmpeg_decode_seconds(path)
        cells = []
        for backend in backends:
            seconds, _ = sample_whole(path, backend)
            cells.append(f"{seconds:9.2f} {reference / seconds:6.2f}")
        print(f"{path.name:42s} {probe(path).duration:7.1f} {reference:9.2f} " + " ".join(cells), flush=True)
    print("ratio = ffmpeg seconds / our seconds; >= 1 means sampling beats one full decode (target)\n")


def rss_table(backends: list[str]) -> None:
    print("Peak RSS: whole video at 1 fps in 60 s spans, fresh process each; x4 = haystack concatenated 4 times")
    print("(ffmpeg concat demuxer, -c copy, built in a temp dir)")
    print(f"{'backend':8s} {'video':10s} {'dur s':>7s} {'base MiB':>9s} {'peak MiB':>9s} {'growth MiB':>11s} {'s':>7s}")
    with tempfile.TemporaryDirectory() as tmp:
        long_video = repeat_video(HAYSTACK, 4, Path(tmp))
        from vidrecall.tools.video import probe

        for backend in backends:
            rows = {}
            for label, path in (("haystack", HAYSTACK), ("x4", long_video)):
                r = rows[label] = child_peak_rss(path, backend)
                print(f"{backend:8s} {label:10s} {probe(path).duration:7.1f} {r['baseline_mib']:9.1f} "
                      f"{r['peak_mib']:9.1f} {r['peak_mib'] - r['baseline_mib']:11.1f} {r['seconds']:7.1f}",
                      flush=True)
            ratio = rows["x4"]["peak_mib"] / rows["haystack"]["peak_mib"]
            growth = [rows[k]["peak_mib"] - rows[k]["baseline_mib"] for k in ("haystack", "x4")]
            print(f"{backend:8s} peak RSS x4 / haystack = {ratio:.2f} (target <= 1.2); growth while sampling "
                  f"{growth[0]:.1f} -> {growth[1]:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="pyav,decord", help="comma-separated: pyav,decord")
    parser.add_argument("--skip-rss", action="store_true", help="throughput only")
    parser.add_argument("--skip-throughput", action="store_true", help="memory only")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(*args.child)
        return
    if not HAYSTACK.exists():
        sys.exit(f"{HAYSTACK}: shared haystack missing; this benchmark needs /work/shared/media")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not args.skip_throughput:
        throughput_table(backends)
    if not args.skip_rss:
        rss_table(backends)


if __name__ == "__main__":
    main()
