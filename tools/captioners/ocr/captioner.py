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
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from vidrecall.core.types import CaptionRequest, CaptionResult, FrameBatch, Usage, fmt_time
from vidrecall.tools.captioners.base import BatchByLoop, Capacity
from vidrecall.tools.captioners.images import no_frames_result, shrink
from vidrecall.tools.captioners.ocr.rapidocr_adapter import RAPIDOCR, package_version
from vidrecall.tools.captioners.ocr.runtime import (EnginePool, EngineSpec, backend_tag, engine_layout,
                                                    engine_pool)
from vidrecall.tools.captioners.ocr.text_look import Box, Reading, boxes_of, overlaps, plan_reads
from vidrecall.tools.captioners.ocr.visual_facts import visual_facts


SURE_CONFIDENCE = 0.8  # a line read at this confidence is rarely misspelt; blurred screen text reads 0.5-0.8


@dataclass(frozen=True)
class OcrSettings:
    min_confidence: float = 0.5
    # RapidOCR scales every frame so its SHORT side is det_side px before detection. Its default (736)
    # upscales 240p video three times over; 480 reads the same titles on 240p-720p video ~3x faster.
    det_side: int = 480
    max_side: int = 1280  # bigger frames are shrunk first: detection cost grows with pixels
    min_chars: int = 2  # lines with fewer letters/digits are OCR noise on textures
    # Words of on-screen text a caption lists, to keep it short enough for a small LLM's context. Counted in
    # words, not lines: a lyric video's 20 one-word lines fit where a blurred screen's 34 lines do not. Past
    # it the surest texts are listed (list_by_sureness), no longer the first ones in time.
    max_words: int = 48
    visual_facts: bool = True
    # Short side of the look, the cheap detection every frame gets; only frames where it finds text are read
    # at det_side (text_look.py). 0: read every frame, as before looks existed.
    look_side: int = 256
    # Read a frame that change-aware sampling kept because its words changed even where the look sees no text
    # (small text a look at 256 misses: on the shared haystack a "1024 x 758" readout; 10 more reads in 15 min).
    read_new_words: bool = True
    backend: str = "auto"  # "openvino" when installed, else "onnxruntime" (runtime.py)
    # The read's text detector on OpenVINO: "bf16" (0.75x the read's CPU; computed in f32 on a CPU without
    # bf16, under the same caption id) or "f32", the readings of before; the recogniser that spells the text
    # is f32 either way. Part of the caption id; the CPU is not.
    read_precision: str = "bf16"
    engines: int = 0  # frames read at once (0: as many as the cores allow, up to 4); not in the cache key

    @property
    def engine_spec(self) -> EngineSpec:
        return EngineSpec(self.det_side, self.look_side, self.min_confidence, self.backend, self.read_precision)

    @property
    def tag(self) -> str:
        facts = "" if self.visual_facts else ":nofacts"
        look = f":look{self.look_side}{':newwords' if self.read_new_words else ''}" if self.look_side else ""
        return (f"minconf{self.min_confidence:g}:det{self.det_side}:max{self.max_side}:words{self.max_words}"
                f"{facts}{look}"
                f"{backend_tag(self.backend, looks=bool(self.look_side), read_precision=self.read_precision)}")


@dataclass
class ReadCounts:
    """Frames this captioner was given (each looked at when looks are on), read, and given an earlier
    frame's reading because they showed the same text."""

    looked: int = 0
    read: int = 0
    reused: int = 0


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: Box | None = field(default=None, compare=False)  # where in the frame it was read


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

    @property
    def frames(self) -> int:
        return sum(frames for frames, _ in self.variants.values())

    @property
    def confidence(self) -> float:
        return max(best for _, best in self.variants.values())

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


def list_by_sureness(sightings: list[TextSighting], max_words: int) -> list[TextSighting]:
    """The sightings a caption lists, in their order: all when their words fit max_words, else the surest that
    fit: read at SURE_CONFIDENCE or more first, then those seen in more frames, then the more confident.
    On a screen recording's minute (34 texts, half of them blurred spellings under 0.8) the first 12 in time
    left out a dialog's "Does the display loek OK?", read at 0.97."""
    words = [len(s.text.split()) for s in sightings]
    if sum(words) <= max_words:
        return sightings
    ranked = sorted(range(len(sightings)), key=lambda k: (sightings[k].confidence < SURE_CONFIDENCE,
                                                          -sightings[k].frames, -sightings[k].confidence, k))
    chosen, used = set(), 0
    for k in ranked:
        if used + words[k] <= max_words:
            chosen.add(k)
            used += words[k]
    return [s for k, s in enumerate(sightings) if k in chosen]


def rapidocr_version() -> str:
    return package_version(RAPIDOCR)


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


class OcrCaptioner(BatchByLoop):
    """Captioner protocol over RapidOCR plus visual facts; deterministic for given frames."""

    def __init__(self, settings: OcrSettings | None = None):
        self.settings = settings or OcrSettings()
        self.id = f"ocr:rapidocr-{rapidocr_version()}:{self.settings.tag}"
        self.counts = ReadCounts()
        self._counts_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OcrCaptioner({self.id!r})"

    # read-only, as Captioner.capacity is, in place of BatchByLoop's plain class default (ONE_AT_A_TIME)
    @property
    def capacity(self) -> Capacity:  # type: ignore[override]
        """Clips captioned at once by the pipelined engine: as many as there are OCR engines, so that a clip
        with a single frame to read does not leave the other engines idle."""
        return Capacity(in_flight=engine_layout(self.settings.engines)[0])

    def _engines(self) -> EnginePool:
        return engine_pool(self.settings.engine_spec, self.settings.engines)

    def preflight(self) -> None:
        self._engines()

    def forget_lines(self) -> None:
        """Start with no recognised lines remembered, as a new process does (benchmarks time passes so)."""
        self._engines().lines.forget()

    def _bgr(self, frame: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(shrink(frame, self.settings.max_side)[..., ::-1])

    def read(self, frame: np.ndarray) -> list[OcrLine]:
        """Text lines in one RGB frame, top to bottom, confident and long enough to be real text."""
        return self._read_bgr(self._bgr(frame))

    def _read_bgr(self, bgr: np.ndarray) -> list[OcrLine]:
        with self._engines().engine() as engine:
            result = engine.read(bgr)
        lines = [OcrLine(text.strip(), score, Box.around(quad)) for quad, text, score in result]
        return [line for line in lines if line.confidence >= self.settings.min_confidence
                and len(text_key(line.text)) >= self.settings.min_chars]

    def look(self, bgr: np.ndarray) -> list[Box]:
        """Where the cheap detection sees text in one BGR frame (already shrunk to max_side)."""
        with self._engines().engine() as engine:
            quads = engine.find_text(bgr)
        return boxes_of(quads)

    def recognise(self, bgr: np.ndarray, box: Box) -> str:
        """The text in one box of a BGR frame, by the gate's recogniser alone (letters and digits), to compare
        with the same box of another frame."""
        crop = np.ascontiguousarray(bgr[max(0, box.y0):box.y1 + 1, max(0, box.x0):box.x1 + 1])
        if crop.size == 0:
            return ""
        with self._engines().engine() as engine:
            return text_key(engine.spell(crop))

    def read_batch(self, batch: FrameBatch) -> list[TextSighting]:
        return dedupe(list(zip(batch.timestamps, self.read_frames(batch))))

    def read_frames(self, batch: FrameBatch) -> list[list[OcrLine]]:
        """Each frame's lines: frames are looked at in parallel, the ones showing text read in parallel, and
        a frame showing the same text as an earlier read one gets that reading (less any text gone since)."""
        pool = self._engines()
        frames = [self._bgr(f) for f in batch.frames]
        if self.settings.look_side:
            plan = plan_reads(frames, list(batch.timestamps), pool.map(self.look, frames), self.recognise,
                              batch.new_words if self.settings.read_new_words else frozenset())
        else:
            plan = [Reading(i) for i in range(len(frames))]
        to_read = sorted({r.source for r in plan if r.source is not None})
        readings = dict(zip(to_read, pool.map(self._read_bgr, [frames[i] for i in to_read])))
        with self._counts_lock:
            self.counts.looked += len(frames)
            self.counts.read += len(to_read)
            self.counts.reused += sum(1 for k, r in enumerate(plan) if r.source not in (None, k))
        return [[] if r.source is None else
                [line for line in readings[r.source] if not any(overlaps(line.box, gone) for gone in r.gone)]
                for r in plan]

    def listing(self, sightings: list[TextSighting]) -> str:
        """'"SINTEL" (0:18-0:24); "COMING SOON" (0:25).' -- at most max_words words; 'none.' when empty."""
        shown = list_by_sureness(sightings, self.settings.max_words)
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
