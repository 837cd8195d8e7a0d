"""Offline coarse pass: 1 fps change-aware against today's 2-frames-a-minute pass and against plain 1 fps.

    python benchmarks/bench_change_sampling.py [--video V] [--repeat 3] [--no-plain] [--today REV]
    python benchmarks/bench_change_sampling.py --slides /tmp/slides.mp4   # build a slide deck first, then run on it

Each variant builds the coarse level of the offline profile (real OCR captioner, real embedder, a fresh store):
- "today": 2 frames a minute, every frame read by onnxruntime, one clip at a time (the pass before this change);
- "2/min, new OCR": the same frames through today's OCR captioner (OpenVINO, looks, engines in parallel);
- "1 fps change-aware": the offline default;
- "1 fps change-aware, no text rule": the same without `change_text` (frames kept for settled new text);
- "1 fps change-aware, f32 read detector": the default with the read's detector at f32 (`read_precision`),
  as before it ran in bf16 on CPUs that have it;
- "1 fps plain": every 1 fps frame read (f32 detector), the reference for OCR calls and for which texts
  were on screen.
The embedder and the OCR networks load before the first timing, so every variant is timed warm; the timed
variants run `--repeat` times, interleaved, and the median is reported (two cores are noisy).
"today" runs this checkout's decoder, which is faster than it was; `--today REV` also times the 2/min pass
with the code of commit REV itself (a git worktree, in a subprocess, right after the other variants).

Text coverage: a text the plain pass reads in >= 2 consecutive 1 fps frames was shown >= 2 s ("all"); of
those, "legible" ones are read at confidence >= 0.8 in >= 2 consecutive frames (the rest are OCR reading a
blurred screen differently frame to frame). Each must be in the change-aware coarse memory. Two counts:
- "as spelled": the plain pass's spelling is in the memory text, or a spelling read by the change-aware pass
  is within 0.85 of it (`same_text`), listed in a caption or not (the count of earlier RESULTS sections);
- "within a listed text": a text a caption lists holds it with at most 0.15 of its letters different, whole
  or as part of a longer line ("ved1830" in "Wed 18:30 Settings"; "terstock" in "nutterstsck"). Texts read
  but not listed (a caption lists up to `OcrSettings.max_words` words) do not count here.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vidrecall.core.accounting import CostMeter  # noqa: E402
from vidrecall.core.config import Level, load_config  # noqa: E402
from vidrecall.core.run_context import RunContext  # noqa: E402
from vidrecall.core.types import FrameBatch  # noqa: E402
from vidrecall.indexing.indexer import Indexer  # noqa: E402
from vidrecall.memory.embedder import load_embedder  # noqa: E402
from vidrecall.memory.memory import VideoMemory  # noqa: E402
from vidrecall.tools.captioners.base import ONE_AT_A_TIME  # noqa: E402
from vidrecall.tools.captioners.ocr.captioner import OcrCaptioner, OcrLine, OcrSettings, dedupe, same_text, text_key  # noqa: E402

DEFAULT_VIDEO = ROOT.parent / "shared" / "media" / "haystack" / "haystack_15min.mp4"
MUST_READ = {"ukulele strings caption": "daddario", "Sintel title": "sintel"}
LEGIBLE = 0.8
QUOTED = re.compile(r'"([^"]*)"')  # OcrCaptioner quotes each text it lists


class TodaysOcr(OcrCaptioner):
    """The OCR captioner as it was: onnxruntime, every frame read, the pipeline sending one clip at a time."""

    capacity = ONE_AT_A_TIME

    def __init__(self) -> None:
        super().__init__(OcrSettings(look_side=0, backend="onnxruntime"))
        self._engines().lines.size = 0  # it recognised every line it met (tools/captioners/ocr_line_memory.py)


class RecordingOcr(OcrCaptioner):
    """An OCR captioner remembering each frame's lines and every spelling it read."""

    def __init__(self, settings: OcrSettings | None = None) -> None:
        super().__init__(settings)
        self.clips: list[list[tuple[float, list[OcrLine]]]] = []
        self.read_keys: set[str] = set()

    def read_frames(self, batch: FrameBatch) -> list[list[OcrLine]]:
        lines = super().read_frames(batch)
        self.clips.append(list(zip(batch.timestamps, lines)))
        self.read_keys.update(text_key(line.text) for frame in lines for line in frame)
        return lines


def shown_texts(clips: list[list[tuple[float, list[OcrLine]]]], min_confidence: float = 0.0) -> set[str]:
    """Texts read in >= 2 consecutive frames of a 1 fps pass (lines below min_confidence left out)."""
    shown = set()
    for frames in clips:
        frames = sorted((t, [line for line in lines if line.confidence >= min_confidence]) for t, lines in frames)
        shown.update(s.key for s in dedupe(frames) if any(b - a >= 1.0 - 1e-6 for a, b in s.runs))
    return shown


@dataclasses.dataclass
class Run:
    seconds: float
    looked: int
    read: int
    reused: int
    decoded: int
    memory_key: str
    captioner: OcrCaptioner
    listed: frozenset[str] = frozenset()  # the keys of the texts the coarse captions quote


def run(video: Path, coarse: Level, captioner: OcrCaptioner, embedder) -> Run:
    config = load_config("offline")
    config = config.replace(levels=[dataclasses.asdict(coarse)] + [dataclasses.asdict(lv) for lv in config.levels[1:]])
    with tempfile.TemporaryDirectory() as store, VideoMemory(config, embedder, store) as memory:
        indexer = Indexer(memory, captioner)
        record = memory.register(video)
        captioner.forget_lines()
        started = time.perf_counter()
        report = indexer.build(record, ["coarse"], speech=False, run=RunContext(meter=CostMeter())).reports[0]
        seconds = time.perf_counter() - started
        text = " ".join(n.text for n in memory.nodes(record.id, "coarse"))
        indexer.close()
    c = captioner.counts
    listed = frozenset(text_key(quoted) for quoted in QUOTED.findall(text))
    return Run(seconds, c.looked, c.read, c.reused, report.frames, text_key(text), captioner, listed)


def in_memory(key: str, change: Run) -> bool:
    read = change.captioner.read_keys if isinstance(change.captioner, RecordingOcr) else set()
    return key in change.memory_key or any(same_text(key, r) for r in read)


def within(key: str, text: str, min_ratio: float = 0.85) -> bool:
    """`key` is `text`, or a stretch of it, with at most 1 - min_ratio of the letters different."""
    if key in text or same_text(key, text, min_ratio):
        return True
    if len(key) <= 4 or len(text) <= len(key):
        return False
    blocks = [b for b in difflib.SequenceMatcher(None, text, key, autojunk=False).get_matching_blocks() if b.size]
    if not blocks:
        return False
    # the stretch of text the key aligns with, from its first matching letter to its last
    matched, stretch = sum(b.size for b in blocks), blocks[-1].a + blocks[-1].size - blocks[0].a
    return 2 * matched / (len(key) + stretch) >= min_ratio


def in_listed_text(key: str, change: Run) -> bool:
    return any(within(key, text) for text in change.listed)


def build_slides(out: Path, slides: int = 30, hold: float = 30.0, seed: int = 3) -> Path:
    """A slide deck: `slides` text cards (a title and two lines, dark on light) held `hold` s each, 426x240."""
    import av
    from PIL import Image, ImageDraw, ImageFont

    words = ("river budget orbit lantern quarterly harvest signal copper meadow vector pilot granite "
             "summit archive delta falcon ledger mosaic nickel oasis prism quartz relay saffron tundra").split()
    rng = random.Random(seed)
    font = ImageFont.load_default(size=18)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 426, 240, "yuv420p"
        for n in range(slides):
            picture = Image.new("RGB", (426, 240), (235, 235, 225))
            draw = ImageDraw.Draw(picture)
            lines = [f"Slide {n + 1}: {' '.join(rng.sample(words, 2)).title()}"] + [
                " ".join(rng.sample(words, 3)) for _ in range(2)]
            for k, line in enumerate(lines):
                draw.text((24, 40 + 50 * k), line, fill=(20, 20, 60), font=font)
            frame = av.VideoFrame.from_image(picture)
            for _ in range(int(hold * 5)):
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out


TODAY_SCRIPT = """
import dataclasses, json, sys, tempfile, time
import vidrecall
from vidrecall.core.accounting import CostMeter
from vidrecall.core.config import load_config
from vidrecall.memory.embedder import load_embedder
from vidrecall.memory.memory import VideoMemory
from vidrecall.tools.captioners.ocr import OcrCaptioner
try:  # REV may come from before the indexing layer (vidrecall.indexing), when VideoMemory captioned itself
    from vidrecall.core.run_context import RunContext
    from vidrecall.indexing.indexer import Indexer
except ImportError:
    Indexer = None
video, repeat = sys.argv[1], int(sys.argv[2])
config = load_config("offline")
coarse = dataclasses.replace(config.level("coarse"), fps=None, frames_per_clip=2, change_aware=False)
config = config.replace(levels=[dataclasses.asdict(coarse)] + [dataclasses.asdict(lv) for lv in config.levels[1:]])
embedder = load_embedder()
embedder.embed(["warm-up"])
OcrCaptioner().preflight()
seconds = []
for _ in range(repeat):
    with tempfile.TemporaryDirectory() as store:
        if Indexer is None:
            with VideoMemory(config, OcrCaptioner(), embedder, store) as memory:
                record = memory.register(video)
                started = time.perf_counter()
                memory.build_level(record, "coarse", progress=False, meter=CostMeter())
                seconds.append(time.perf_counter() - started)
        else:
            with VideoMemory(config, embedder, store) as memory:
                indexer = Indexer(memory, OcrCaptioner())
                record = memory.register(video)
                started = time.perf_counter()
                indexer.build(record, ["coarse"], speech=False, run=RunContext(meter=CostMeter()))
                seconds.append(time.perf_counter() - started)
print(json.dumps({"seconds": seconds, "package": vidrecall.__file__}))
"""


def todays_code_pass(rev: str, video: Path, repeat: int) -> list[float]:
    """The 2/min coarse pass timed with the code of commit `rev`: a git worktree, laid out as the installed
    package (pyproject's package-dir), imported ahead of this checkout through PYTHONPATH."""
    with tempfile.TemporaryDirectory() as tmp:
        source, package = Path(tmp) / "source", Path(tmp) / "package" / "vidrecall"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(source), rev], check=True,
                       capture_output=True)
        try:
            shutil.copytree(source / "vidrecall", package, symlinks=True)
            folders = tomllib.loads((source / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
            for name, folder in folders.items():
                if name.count(".") == 1 and not (package / name.split(".")[1]).exists():
                    (package / name.split(".")[1]).symlink_to(source / folder)
            env = {**os.environ, "PYTHONPATH": str(package.parent)}
            done = subprocess.run([sys.executable, "-c", TODAY_SCRIPT, str(video), str(repeat)], env=env,
                                  capture_output=True, text=True, cwd=tmp)
            if done.returncode != 0:
                raise RuntimeError(f"today's pass at {rev} failed: {done.stderr.strip().splitlines()[-1:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            assert result["package"].startswith(tmp), result["package"]  # it ran the old code, not this checkout
            return result["seconds"]
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(source)], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--slides", type=Path, help="build a slide deck at this path and run on it")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed variant (median reported)")
    parser.add_argument("--no-plain", action="store_true", help="skip the plain 1 fps reference pass")
    parser.add_argument("--today", metavar="REV", help="also time the 2/min pass with the code of this commit")
    args = parser.parse_args()
    video = build_slides(args.slides) if args.slides else args.video
    profile = load_config("offline").level("coarse")
    two_a_minute = dataclasses.replace(profile, fps=None, frames_per_clip=2, change_aware=False)
    embedder = load_embedder()
    embedder.embed(["warm-up"])
    for captioner in (TodaysOcr(), OcrCaptioner(), OcrCaptioner(OcrSettings(read_precision="f32"))):
        captioner.preflight()
    variants = {"today: 2/min, read every frame": (two_a_minute, TodaysOcr),
                "2/min, new OCR": (two_a_minute, OcrCaptioner),
                "1 fps change-aware": (profile, RecordingOcr),
                "1 fps change-aware, no text rule": (dataclasses.replace(profile, change_text=False), RecordingOcr),
                "1 fps change-aware, f32 read detector": (profile, partial(RecordingOcr, OcrSettings(read_precision="f32")))}
    print(f"video: {video.name}")
    runs: dict[str, list[Run]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, (level, make) in variants.items():
            runs[name].append(run(video, level, make(), embedder))
    median = {name: statistics.median(r.seconds for r in rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        r = rs[-1]
        print(f"  {name:34s} median {median[name]:6.1f} s (runs {', '.join(f'{x.seconds:.1f}' for x in rs)})  "
              f"decoded {r.decoded:5d}  given to OCR {r.looked:4d}  read {r.read:4d}  reused {r.reused:3d}", flush=True)
    changes = {name: runs[name][-1] for name in runs if name.startswith("1 fps change-aware")}
    if args.today:
        seconds = todays_code_pass(args.today, video, args.repeat)
        median[f"2/min at {args.today}"] = statistics.median(seconds)
        print(f"  {'2/min with the code of ' + args.today:34s} median {statistics.median(seconds):6.1f} s (runs "
              f"{', '.join(f'{x:.1f}' for x in seconds)})", flush=True)
    plain = None
    if not args.no_plain:
        # The reference of what was on screen: every frame read, by the f32 detector (the faithful one)
        plain = run(video, dataclasses.replace(profile, change_aware=False),
                    RecordingOcr(OcrSettings(look_side=0, read_precision="f32")), embedder)
        print(f"  {'1 fps plain, every frame read':34s} {plain.seconds:6.1f} s  decoded {plain.decoded:5d}  "
              f"read {plain.read:4d}", flush=True)
    today, new_old = median["today: 2/min, read every frame"], median["2/min, new OCR"]
    today_run = runs["today: 2/min, read every frame"][-1]
    for name, change in changes.items():
        plain_frames = plain.read if plain else change.decoded
        print(f"{name}:")
        print(f"  frames given to OCR / plain 1 fps: {change.looked}/{plain_frames} = "
              f"{change.looked / plain_frames:.3f} (goal <= 0.25); frames read in full: {change.read / plain_frames:.3f}")
        print(f"  wall / today's pass: {median[name]:.1f}/{today:.1f} = {median[name] / today:.2f}x (goal <= 2x); "
              f"/ 2/min with the new OCR: {median[name] / new_old:.2f}x")
        if args.today:
            at = median[f"2/min at {args.today}"]
            print(f"  wall / the 2/min pass with the code of {args.today}: {median[name]:.1f}/{at:.1f} = "
                  f"{median[name] / at:.2f}x")
        for label, needle in MUST_READ.items():
            print(f"  {label!r} in coarse memory: {needle in change.memory_key} "
                  f"(today's pass: {needle in today_run.memory_key})")
        if plain is not None:
            assert isinstance(plain.captioner, RecordingOcr)
            for label, min_confidence in (("all", 0.0), ("legible", LEGIBLE)):
                shown = shown_texts(plain.captioner.clips, min_confidence)
                missed = sorted(k for k in shown if not in_memory(k, change))
                print(f"  texts shown >= 2 s ({label}): {len(shown)}; in coarse memory as spelled "
                      f"{len(shown) - len(missed)}; missed: {missed[:12]}")
                missed = sorted(k for k in shown if not in_listed_text(k, change))
                print(f"    within a listed text: {len(shown) - len(missed)}; missed: {missed[:12]}")


if __name__ == "__main__":
    main()
