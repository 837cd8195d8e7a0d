"""OCR captioner speed, same frames, same run:
- seconds per frame at our det side (480) vs RapidOCR's default (736);
- frames per second of one engine on every core vs the default pool (one engine per core, up to 4,
  reading frames at once).

    python benchmarks/bench_ocr.py [--frames 24]
"""
import argparse
import os
import time
from pathlib import Path

from vidrecall.core.types import CaptionRequest, Span
from vidrecall.tools.captioners.ocr import OcrCaptioner, OcrSettings, engine_layout
from vidrecall.tools.video import VideoReader

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
SOURCES = [(str(MEDIA / "haystack/haystack_15min.mp4"), Span(180, 360)),
           (str(MEDIA / "clips/moviepy_big_buck_bunny_0_30.webm"), Span(0, 30)),
           (str(MEDIA / "clips/vl2_00003491.mp4"), Span(0, 60))]


def seconds_per_frame(settings: OcrSettings, batch) -> tuple[float, str]:
    cap = OcrCaptioner(settings)
    cap.preflight()
    cap.caption(CaptionRequest(batch, "", "coarse"))  # warm: first runs allocate
    start = time.perf_counter()
    text = cap.caption(CaptionRequest(batch, "", "coarse")).text
    return (time.perf_counter() - start) / len(batch), text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="frames per source")
    args = parser.parse_args()
    engines, threads = engine_layout()
    print(f"{os.cpu_count()} cores: the default pool is {engines} engine(s) x {threads} thread(s)")
    for path, span in SOURCES:
        with VideoReader(path) as r:
            batch = r.sample(span, num_frames=args.frames, max_pixels=200704)
        det736, _ = seconds_per_frame(OcrSettings(det_side=736, engines=1), batch)
        one, one_text = seconds_per_frame(OcrSettings(engines=1), batch)
        pool, pool_text = seconds_per_frame(OcrSettings(), batch)
        size = f"{batch.frames[0].shape[1]}x{batch.frames[0].shape[0]}"
        print(f"{path.rsplit('/', 1)[1]:38s} {size}  det736 {det736:.3f} s/frame  det480 {one:.3f} s/frame "
              f"(x{det736 / one:.2f})  | det480 pool {pool:.3f} s/frame: {one / pool:.2f}x the frames/s of one "
              f"engine  same caption: {one_text == pool_text}")


if __name__ == "__main__":
    main()
