"""Offline coarse pass at 1 fps change-aware vs plain 1 fps vs the old 2-frames-a-minute pass.

    python benchmarks/bench_change_sampling.py [--video ../shared/media/haystack/haystack_15min.mp4] [--no-plain]

Each variant builds the coarse level of the offline profile (real RapidOCR captioner, real embedder, a fresh
store) and reports wall seconds and OCR calls (frames given to OCR). The embedder and OCR models are loaded
before the first timing, so every variant is timed warm. The plain 1 fps pass is also the
reference for text coverage: every text it reads in >= 2 consecutive 1 fps frames (shown >= 2 s) must
appear in the change-aware coarse memory. `--no-plain` skips it (OCR calls of plain 1 fps are then the
frames the change-aware pass decoded, which is exactly what plain 1 fps would OCR).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidrecall.core.accounting import CostMeter  # noqa: E402
from vidrecall.core.config import Level, load_config  # noqa: E402
from vidrecall.memory.embedder import load_embedder  # noqa: E402
from vidrecall.memory.memory import VideoMemory  # noqa: E402
from vidrecall.tools.captioners.ocr import OcrCaptioner, same_text, text_key  # noqa: E402
from vidrecall.tools.change_sampling import is_cut, signature  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "media" / "haystack" / "haystack_15min.mp4"
MUST_READ = {"ukulele strings caption": "daddario", "Sintel title": "sintel"}


class RecordingOcr(OcrCaptioner):
    """The real OCR captioner, remembering every text it read and for how long (1 fps runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, float] = {}  # text key -> longest contiguous seconds seen
        self.after_cut = 0  # frames given to OCR that follow a scene cut (vs the frame before them)

    def read_batch(self, batch):
        sigs = [signature(f) for f in batch.frames]
        self.after_cut += sum(is_cut(a, b) for a, b in zip(sigs[1:], sigs))
        sightings = super().read_batch(batch)
        for s in sightings:
            longest = max(b - a for a, b in s.runs) + 1.0  # 1 fps: n consecutive frames ~ n seconds
            self.texts[s.key] = max(self.texts.get(s.key, 0.0), longest)
        return sightings


def run(video: Path, coarse: Level, embedder) -> dict:
    config = load_config("offline")
    config = config.replace(levels=[dataclasses.asdict(coarse)] + [dataclasses.asdict(lv) for lv in config.levels[1:]])
    captioner = RecordingOcr()
    with tempfile.TemporaryDirectory() as store, VideoMemory(config, captioner, embedder, store) as memory:
        record = memory.register(video)
        meter = CostMeter()
        started = time.perf_counter()
        report = memory.build_level(record, "coarse", progress=False, meter=meter)
        seconds = time.perf_counter() - started
        text = " ".join(n.text for n in memory.nodes(record.id, "coarse"))
    ocr_frames = sum(u.images for u in meter.calls if u.kind == "ocr")
    return {"seconds": seconds, "ocr_frames": ocr_frames, "decoded": report.frames, "texts": captioner.texts,
            "after_cut": captioner.after_cut,
            "memory_key": text_key(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--no-plain", action="store_true", help="skip the plain 1 fps pass")
    args = parser.parse_args()
    profile = load_config("offline").level("coarse")
    embedder = load_embedder()
    # Load the embedder and the OCR models before timing: the first variant would otherwise pay both
    # (about 6 s) and the ratios would flatter whatever runs second.
    embedder.embed(["warm-up"])
    OcrCaptioner().preflight()
    old = dataclasses.replace(profile, fps=None, frames_per_clip=2, change_aware=False)
    plain = dataclasses.replace(profile, change_aware=False)
    print(f"video: {args.video.name}")
    variants = {"2 frames/min (old)": old, "1 fps change-aware": profile}
    if not args.no_plain:
        variants["1 fps plain"] = plain
    runs = {}
    for name, level in variants.items():
        r = runs[name] = run(args.video, level, embedder)
        print(f"  {name:20s} {r['seconds']:7.1f} s  OCR calls (frames) {r['ocr_frames']:5d}  decoded {r['decoded']}"
              f"  OCR'd frames right after a scene cut {r['after_cut']}", flush=True)
    change, old_run = runs["1 fps change-aware"], runs["2 frames/min (old)"]
    plain_calls = runs["1 fps plain"]["ocr_frames"] if "1 fps plain" in runs else change["decoded"]
    print(f"OCR calls change-aware / plain 1 fps: {change['ocr_frames']}/{plain_calls} = "
          f"{change['ocr_frames'] / plain_calls:.3f} (goal <= 0.25)")
    print(f"wall change-aware / old pass: {change['seconds']:.1f}/{old_run['seconds']:.1f} = "
          f"{change['seconds'] / old_run['seconds']:.2f}x (goal <= 2x)")
    for label, needle in MUST_READ.items():
        print(f"  {label!r} in coarse memory: change-aware {needle in change['memory_key']}, "
              f"old {needle in old_run['memory_key']}")
    if "1 fps plain" in runs:
        shown = {k: s for k, s in runs["1 fps plain"]["texts"].items() if s >= 2.0}
        missed = [k for k in shown if k not in change["memory_key"]
                  and not any(same_text(k, c) for c in change["texts"])]
        print(f"texts shown >= 2 s (read by plain 1 fps): {len(shown)}; in change-aware memory: "
              f"{len(shown) - len(missed)}; missed: {missed[:10]}")


if __name__ == "__main__":
    main()
