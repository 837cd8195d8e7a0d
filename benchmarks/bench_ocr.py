"""OCR captioner speed: seconds per frame at our det side (480) vs RapidOCR's default (736), same frames, same run."""
import time
from pathlib import Path
from vidrecall.tools.captioners.ocr import OcrCaptioner, OcrSettings
from vidrecall.tools.video import VideoReader
from vidrecall.core.types import CaptionRequest, Span

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
SOURCES = [(str(MEDIA / "haystack/haystack_15min.mp4"), Span(180, 360)),
           (str(MEDIA / "clips/moviepy_big_buck_bunny_0_30.webm"), Span(0, 30)),
           (str(MEDIA / "clips/vl2_00003491.mp4"), Span(0, 60))]
for path, span in SOURCES:
    with VideoReader(path) as r:
        batch = r.sample(span, num_frames=8, max_pixels=200704)
    figures = {}
    for side in (736, 480):
        cap = OcrCaptioner(OcrSettings(det_side=side)); cap.preflight()
        start = time.perf_counter()
        text = cap.caption(CaptionRequest(batch, "", "coarse")).text
        figures[side] = (time.perf_counter() - start) / len(batch)
    print(f"{path.rsplit('/',1)[1]:40s} {batch.frames[0].shape[1]}x{batch.frames[0].shape[0]}  "
          f"det736 {figures[736]:.2f} s/frame  det480 {figures[480]:.2f} s/frame  ratio {figures[480]/figures[736]:.2f}")
