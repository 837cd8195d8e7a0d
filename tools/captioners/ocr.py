"""The offline profile's eyes: on-screen text (RapidOCR) of the sampled frames, deduplicated across
frames, plus cheap visual facts (colours, brightness, scene cuts).

A caption reads like:
    Frames 0:12-0:24 (4 sampled). On-screen text: "SINTEL" (0:18-0:24); "THE BLENDER FOUNDATION" (0:12).
    Colours: green 40%, brown 25%, white 10%. Bright. Scene cut near 0:20.
OCR cannot follow an instruction; the request's instruction is ignored (memory stores it with the node).
"""
from __future__ import annotations

import difflib
import re
import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata

import numpy as np

from vidrecall.tools.captioners.base import BatchByLoop, CaptionerError
from vidrecall.tools.captioners.images import no_frames_result, shrink
from vidrecall.tools.captioners.visual_facts import visual_facts
from vidrecall.core.types import CaptionRequest, CaptionResult, FrameBatch, Usage, fmt_time


@dataclass(frozen=True)
class OcrSettings:
    min_confidence: float = 0.5
    # RapidOCR scales every frame so its SHORT side is det_side px before detection. Its default (736)
    # upscales 240p video three times over; 480 reads the same titles on 240p-720p video ~3x faster.
    det_side: int = 480
    max_side: int = 1280  # bigger frames are shrunk first: detection cost grows with pixels
    min_chars: int = 2  # lines with fewer letters/digits are OCR noise on textures
    max_lines: int = 12  # keep captions short enough for a small LLM's context
    visual_facts: bool = True
    engines: int = 0  # frames read at once (0: as many as the cores allow, up to 4); not in the cache key

    @property
    def tag(self) -> str:
        facts = "" if self.visual_facts else ":nofacts"
        return f"minconf{self.min_confidence:g}:det{self.det_side}:max{self.max_side}{facts}"


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float


@dataclass
class TextSighting:
    """One on-screen text across frames: its spellings, and the time runs in which it was visible."""

    variants: dict[str, tuple[int, float]] = field(default_factory=dict)  # text -> (frames, best confidence)
    runs: list[list[float]] = field(default_factory=list)  # [first_seen, last_seen] per contiguous run
    key: str = ""
    last_frame: int = -2

    @property
    def text(self) -> str:
        """The spelling to show: most words (OCR at low resolution drops spaces), then most frequent."""
        return max(self.variants, key=lambda v: (len(v.split()), self.variants[v][0], self.variants[v][1]))

    @property
    def first_seen(self) -> float:
        return self.runs[0][0]

    def times(self) -> str:
        return ", ".join(fmt_time(a) if round(a) == round(b) else f"{fmt_time(a)}-{fmt_time(b)}" for a, b in self.runs)

    def see(self, line: OcrLine, frame_index: int, t: float) -> None:
        frames, best = self.variants.get(line.text, (0, 0.0))
        self.variants[line.text] = (frames + 1, max(best, line.confidence))
        if self.runs and frame_index - self.last_frame <= 1:
            self.runs[-1][1] = t
        else:
            self.runs.append([t, t])
        self.last_frame = frame_index


def text_key(text: str) -> str:
    """Lower-case letters and digits only: the same title read with or without spaces gets one key."""
    return re.sub(r"[\W_]+", "", text.lower())


def same_text(a: str, b: str, min_ratio: float = 0.85) -> bool:
    if a == b:
        return True
    if min(len(a), len(b)) <= 4:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= min_ratio


def dedupe(per_frame: list[tuple[float, list[OcrLine]]]) -> list[TextSighting]:
    """Group lines read in several frames into sightings, ordered by when they first appear."""
    sightings: list[TextSighting] = []
    for index, (t, lines) in enumerate(per_frame):
        for line in lines:
            key = text_key(line.text)
            match = next((s for s in sightings if same_text(s.key, key)), None)
            if match is None:
                match = TextSighting(key=key)
                sightings.append(match)
            match.see(line, index, t)
    return sorted(sightings, key=lambda s: s.first_seen)


class _EnginePool:
    """RapidOCR engines shared by every OCR captioner of the process, one frame per engine at a time.

    On a CPU, onnxruntime spreads one small detection over its threads poorly: two single-threaded engines
    reading two frames at once do 1.3-1.4x the frames of one engine using both cores
    (benchmarks/bench_ocr.py). So frames are read `size` at a time, each engine on its share of
    the cores."""

    def __init__(self, det_side: int, min_confidence: float, size: int, threads_each: int) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:
            raise CaptionerError(f"OCR needs rapidocr-onnxruntime ({e}): pip install rapidocr-onnxruntime") from e
        self.size = size
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(size):
            self._free.put(RapidOCR(det_limit_side_len=det_side, text_score=min_confidence, use_cls=False,
                                    intra_op_num_threads=threads_each))
        self._readers = ThreadPoolExecutor(size, thread_name_prefix="ocr") if size > 1 else None

    def run(self, bgr: np.ndarray):
        engine = self._free.get()  # blocks while every engine is busy: never two frames on one engine
        try:
            return engine(bgr)
        finally:
            self._free.put(engine)

    def map(self, fn, items: list) -> list:
        """fn over items, `size` at a time, results in order."""
        if self._readers is None or len(items) < 2:
            return [fn(x) for x in items]
        return list(self._readers.map(fn, items))


def engine_layout(engines: int = 0, cpus: int | None = None) -> tuple[int, int]:
    """(engines, threads each) that keep every core busy; by default one engine per core, at most 4 (beyond
    that a frame's detection is better sped up by more threads than by more frames in flight)."""
    cpus = max(1, cpus or os.cpu_count() or 1)
    engines = engines or min(4, cpus)
    return engines, max(1, cpus // engines)


@cache
def _pool(det_side: int, min_confidence: float, engines: int = 0) -> _EnginePool:
    """One pool per process and setting: loading the ONNX models costs about a second an engine."""
    return _EnginePool(det_side, min_confidence, *engine_layout(engines))


def rapidocr_version() -> str:
    try:
        return metadata.version("rapidocr-onnxruntime")
    except metadata.PackageNotFoundError:
        return "missing"


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


class OcrCaptioner(BatchByLoop):
    """Captioner protocol over RapidOCR plus visual facts; deterministic for given frames."""

    def __init__(self, settings: OcrSettings | None = None):
        self.settings = settings or OcrSettings()
        self.id = f"ocr:rapidocr-{rapidocr_version()}:{self.settings.tag}"

    def __repr__(self) -> str:
        return f"OcrCaptioner({self.id!r})"

    def _engines(self) -> _EnginePool:
        return _pool(self.settings.det_side, self.settings.min_confidence, self.settings.engines)

    def preflight(self) -> None:
        self._engines()

    def read(self, frame: np.ndarray) -> list[OcrLine]:
        """Text lines in one RGB frame, top to bottom, confident and long enough to be real text."""
        bgr = np.ascontiguousarray(shrink(frame, self.settings.max_side)[..., ::-1])
        result, _ = self._engines().run(bgr)
        lines = [OcrLine(str(text).strip(), float(score)) for _box, text, score in (result or [])]
        return [line for line in lines if line.confidence >= self.settings.min_confidence
                and len(text_key(line.text)) >= self.settings.min_chars]

    def read_batch(self, batch: FrameBatch) -> list[TextSighting]:
        lines = self._engines().map(self.read, list(batch.frames))
        return dedupe(list(zip(batch.timestamps, lines)))

    def listing(self, sightings: list[TextSighting]) -> str:
        """'"SINTEL" (0:18-0:24); "COMING SOON" (0:25).' -- at most max_lines texts; 'none.' when empty."""
        shown = sightings[: self.settings.max_lines]
        if not shown:
            return "none."
        more = len(sightings) - len(shown)
        text = "; ".join(f"{_quote(s.text)} ({s.times()})" for s in shown)
        return text + (f"; and {more} more lines." if more else ".")

    def describe(self, batch: FrameBatch, sightings: list[TextSighting]) -> str:
        head = f"Frames {batch.span.label()} ({len(batch)} sampled)."
        parts = [head, "On-screen text: " + self.listing(sightings) if sightings else "No on-screen text."]
        if self.settings.visual_facts:
            parts.append(visual_facts(batch.frames, batch.timestamps).text())
        return " ".join(parts)

    def caption(self, request: CaptionRequest) -> CaptionResult:
        started = time.perf_counter()
        batch = request.frames
        if not batch.frames:
            return no_frames_result(request, self.id, "ocr")
        text = self.describe(batch, self.read_batch(batch))
        usage = Usage(model=self.id, kind="ocr", images=len(batch), tokens_out=len(text.split()),
                      latency_s=time.perf_counter() - started, role="caption")
        return CaptionResult(text=text, usage=usage)
