"""OCR captioner speed, same frames, same run:
- seconds to read a frame (detect at det_side 480, recognise) on onnxruntime vs OpenVINO at f32, one engine
  each, and whether the captions are the same; then OpenVINO with the detector at its default precision
  (`read_precision: bf16`, computed in bf16 where the CPU has it) and whether its caption is the f32 one;
- seconds for a look (the same detector at the video's own size, bf16 where the CPU has it) against a read;
- frames per second of one engine on every core vs the default pool (one engine per core, up to 4,
  reading frames at once);
- seconds a detection (the read's and the look's) costs when RapidOCR scales the frame in numpy
  against scaling it in the network (OpenVINO pre-processing), and whether the boxes are the same.

    python benchmarks/bench_ocr.py [--frames 24]
"""
import argparse
import copy
import os
import time
from pathlib import Path

from vidrecall.core.types import CaptionRequest, Span
from vidrecall.tools.captioners.ocr.captioner import OcrCaptioner, OcrSettings
from vidrecall.tools.captioners.ocr.rapidocr_adapter import OpenVinoSession, model_paths
from vidrecall.tools.captioners.ocr.runtime import LOOK_PRECISION, _build_engine, engine_layout, run_precision
from vidrecall.tools.video import VideoReader

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
SOURCES = [(str(MEDIA / "haystack/haystack_15min.mp4"), Span(180, 360)),
           (str(MEDIA / "clips/moviepy_big_buck_bunny_0_30.webm"), Span(0, 30)),
           (str(MEDIA / "clips/vl2_00003491.mp4"), Span(0, 60))]


def seconds_per_frame(settings: OcrSettings, batch) -> tuple[float, str]:
    cap = OcrCaptioner(settings)
    cap.preflight()
    cap.caption(CaptionRequest(batch, "", "coarse"))  # warm: first runs allocate (and compile their shapes)
    start = time.perf_counter()
    text = cap.caption(CaptionRequest(batch, "", "coarse")).text
    return (time.perf_counter() - start) / len(batch), text


def seconds_per_look(batch) -> float:
    cap = OcrCaptioner(OcrSettings(engines=1))
    frames = [cap._bgr(f) for f in batch.frames]
    cap.look(frames[0])
    start = time.perf_counter()
    for frame in frames:
        cap.look(frame)
    return (time.perf_counter() - start) / len(frames)


def scaling_in_numpy(detector, precision: str):
    """The same detector scaling its frames in numpy, as RapidOCR does, before an f32 network input."""
    other = copy.copy(detector)
    del other.get_preprocess  # back to RapidOCR's own
    other.infer = OpenVinoSession(model_paths()[0], 1, static_shapes=True, precision=precision)
    return other


def seconds_per_detection(detector, frames) -> tuple[float, list]:
    detector(frames[0])
    start = time.perf_counter()
    boxes = [detector(frame)[0] for frame in frames]
    return (time.perf_counter() - start) / len(frames), [[] if b is None else b.round().tolist() for b in boxes]


def scaling_row(batch) -> str:
    engine = _build_engine(OcrSettings(backend="openvino").engine_spec, 1)
    frames = [OcrCaptioner()._bgr(f) for f in batch.frames]
    parts = []
    fast = run_precision(LOOK_PRECISION)  # the default read's and the look's detectors run at it here
    for name, detector in (("read", engine.reader.text_det), ("look", engine.look)):
        numpy_s, numpy_boxes = seconds_per_detection(scaling_in_numpy(detector, fast), frames)
        network_s, network_boxes = seconds_per_detection(detector, frames)
        same = sum(a == b for a, b in zip(numpy_boxes, network_boxes))
        parts.append(f"{name} detection {numpy_s:.4f} -> {network_s:.4f} s/frame (x{numpy_s / network_s:.2f}), "
                     f"same boxes in {same}/{len(frames)} frames")
    return "  scaling in the network: " + "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="frames per source")
    args = parser.parse_args()
    engines, threads = engine_layout()
    print(f"{os.cpu_count()} cores: the default pool is {engines} engine(s) x {threads} thread(s)")
    print(f"detector and gate precision: {LOOK_PRECISION}, computed in {run_precision(LOOK_PRECISION)} here")
    for path, span in SOURCES:
        with VideoReader(path) as r:
            batch = r.sample(span, num_frames=args.frames, max_pixels=200704)
        ort, ort_text = seconds_per_frame(OcrSettings(backend="onnxruntime", look_side=0, engines=1), batch)
        ov, ov_text = seconds_per_frame(OcrSettings(backend="openvino", look_side=0, engines=1, read_precision="f32"),
                                        batch)
        fast, fast_text = seconds_per_frame(OcrSettings(backend="openvino", look_side=0, engines=1), batch)
        pool, pool_text = seconds_per_frame(OcrSettings(backend="openvino", look_side=0), batch)
        look = seconds_per_look(batch)
        size = f"{batch.frames[0].shape[1]}x{batch.frames[0].shape[0]}"
        print(f"{path.rsplit('/', 1)[1]:38s} {size}  read: onnxruntime {ort:.3f} s/frame, openvino {ov:.3f} "
              f"(x{ort / ov:.2f}, same caption: {ort_text == ov_text}), detector at {run_precision('bf16')} {fast:.3f} "
              f"(x{ov / fast:.2f}, same caption: {fast_text == ov_text})  look {look:.3f} s/frame ({fast / look:.1f}x "
              f"cheaper than a read)  | pool {pool:.3f} s/frame: {fast / pool:.2f}x the frames/s of one engine, "
              f"same caption: {pool_text == fast_text}")
        print(scaling_row(batch))

if __name__ == "__main__":
    main()
