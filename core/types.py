"""Plain data types shared by every layer: spans, sampled frames, caption requests, memory nodes, usage.

These are the contracts between tools/ (video, captioners, LLMs), memory/ and agent/.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Two times closer than this are the same instant. Spans are never compared with exact float equality.
TIME_EPS = 1e-3
# The memory lane of what was said (transcript segments), beside the caption levels of what was seen.
SPEECH_LEVEL = "speech"
SPEECH_DEPTH = -1  # not a caption level: never a parent, never zoomed into


@dataclass(frozen=True, order=True)
class Span:
    """A half-open time interval [start, end) in seconds of a video."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (self.end >= self.start):
            raise ValueError(f"span end {self.end} is before its start {self.start}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2

    def same_as(self, other: "Span", tol: float = TIME_EPS) -> bool:
        return abs(self.start - other.start) <= tol and abs(self.end - other.end) <= tol

    def overlap(self, other: "Span") -> float:
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))

    def iou(self, other: "Span") -> float:
        inter = self.overlap(other)
        union = max(self.end, other.end) - min(self.start, other.start)
        return inter / union if union > 0 else float(self.same_as(other))

    def contains(self, t: float) -> bool:
        return self.start - TIME_EPS <= t < self.end + TIME_EPS

    def clip_to(self, duration: float) -> "Span":
        """This span cut to [0, duration]; raises ValueError when nothing is left."""
        start, end = max(0.0, self.start), min(self.end, duration)
        if end - start <= TIME_EPS:
            raise ValueError(f"span {self} lies outside the video (0 s to {duration:.2f} s)")
        return Span(start, end)

    def split(self, seconds: float) -> list["Span"]:
        """Consecutive sub-spans of at most `seconds`; a tail shorter than TIME_EPS is dropped."""
        out, t = [], self.start
        while self.end - t > TIME_EPS:
            out.append(Span(round(t, 3), round(min(t + seconds, self.end), 3)))
            t += seconds
        return out

    def label(self) -> str:
        return f"{fmt_time(self.start)}-{fmt_time(self.end)}"

    def as_list(self) -> list[float]:
        return [round(self.start, 3), round(self.end, 3)]


def fmt_time(t: float) -> str:
    """Seconds as H:MM:SS (or M:SS under an hour), the way people read video times."""
    t = max(0.0, t)
    h, rem = divmod(int(round(t)), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class FrameBatch:
    """Frames sampled from one span: RGB uint8 arrays (H, W, 3) with their timestamps in seconds."""

    frames: list[np.ndarray]
    timestamps: list[float]
    span: Span
    source: str = ""
    skipped: int = 0  # frames that could not be decoded and were skipped with a warning
    # Indices of frames kept because the words in them changed (change-aware sampling's text rule): a
    # captioner that looks before it reads reads these even where its look sees nothing new.
    new_words: frozenset[int] = frozenset()

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class Usage:
    """What one model call cost."""

    model: str
    kind: str  # "llm" | "vlm" | "ocr" | "embed" | "asr"
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_in_cached: int = 0  # of tokens_in, read from the server's KV cache (a reused prompt prefix)
    images: int = 0
    latency_s: float = 0.0
    cached: bool = False
    ok: bool = True
    role: str = ""  # which agent role made the call: answer, localize, caption, ...
    audio_seconds: float = 0.0  # asr: how much audio the call transcribed
    error: str = ""  # why a failed call failed (one key-free line); "" when ok
    out_of_time: bool = False  # stopped or abandoned because the question's time budget ran out (not a model fault)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CaptionRequest:
    """Frames plus what to look for. `prompt` is the rendered level prompt (instruction included)."""

    frames: FrameBatch
    prompt: str
    level: str
    instruction: str | None = None


@dataclass
class CaptionResult:
    text: str
    usage: Usage


@dataclass
class MemoryNode:
    """One stored caption: what a captioner said about one span at one level of the hierarchy, or (level
    SPEECH_LEVEL) one transcript segment: what was said in the span, by whom, word by word."""

    video_id: str
    level: str
    depth: int
    start: float
    end: float
    text: str
    captioner: str
    prompt_hash: str
    fps: float | None = None
    frames: int = 0
    max_pixels: int = 0
    instruction: str | None = None
    parent_id: int | None = None
    id: int | None = None
    created_at: float = field(default_factory=time.time)
    speaker: str | None = None  # speech nodes: who spoke, when diarization knows
    words: str | None = None  # speech nodes: JSON [[start, end, word], ...]

    @property
    def is_speech(self) -> bool:
        return self.level == SPEECH_LEVEL
    sampling: str = ""  # Level.sampling_tag: '' for plain sampling, else e.g. 'change0.08:floor10'
    frame_times: list[float] | None = None  # timestamps of the frames the captioner saw (change-aware levels)

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)

    @property
    def stored_id(self) -> int:
        """The id of a node read from (or just written to) the store; a node not stored yet has none."""
        if self.id is None:
            raise ValueError(f"{self.level} node {self.start:.1f}-{self.end:.1f} s is not stored yet")
        return self.id

    @property
    def key(self) -> str:
        return caption_key(self.video_id, self.level, Span(self.start, self.end), self.fps, self.frames,
                           self.max_pixels, self.captioner, self.prompt_hash, self.sampling)


def stable_hash(obj: Any, n: int = 16) -> str:
    """Short sha256 of a JSON-serialisable object (keys sorted), for cache keys."""
    blob = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:n]


def caption_key(video_id: str, level: str, span: Span, fps: float | None, frames: int, max_pixels: int,
                captioner: str, prompt_hash: str, sampling: str = "") -> str:
    """Everything that shapes a caption. Asking for the same span the same way gives the same key.

    Times are rounded to milliseconds so that the key never depends on float noise. `sampling` joins the
    key only when set, so plain-sampled captions keep the keys they were stored under.
    """
    parts = [video_id, level, round(float(span.start), 3), round(float(span.end), 3),
             None if fps is None else round(float(fps), 4), int(frames), int(max_pixels), captioner, prompt_hash]
    return stable_hash(parts + [sampling] if sampling else parts, 32)
