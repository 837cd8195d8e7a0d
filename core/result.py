"""What a question returns, and what each step of the agent's stream looks like.

Plain data: the HTML card for Jupyter lives in `vidrecall.display` and is registered with IPython by the
top-level package (no import from here up to the display layer).

The CLI, the notebooks, the evaluation harness and the trajectory all consume these types.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vidrecall.core.searched import SearchedSummary
from vidrecall.core.types import fmt_time


class Evidence(BaseModel):
    """A time span that supports the answer, with the memory text that says so."""

    start: float
    end: float
    level: str = ""
    text: str = ""
    node_id: int | None = None
    # over a library: the file the span is in (start/end are then times in that file) and its clock time
    video: str | None = None
    video_id: str | None = None
    clock: str | None = None

    def label(self) -> str:
        span = f"{fmt_time(self.start)}-{fmt_time(self.end)}"
        if not self.video:
            return span
        name = self.video.replace("\\", "/").rsplit("/", 1)[-1]
        return f"{name} {span}" + (f" ({self.clock})" if self.clock else "")


class Cost(BaseModel):
    """What one question cost. Filled from recorded model calls; nothing re-counts."""

    frames_decoded: int = 0
    captions_by_level: dict[str, int] = Field(default_factory=dict)
    captions_reused: int = 0
    llm_calls: int = 0
    vlm_calls: int = 0
    tokens_in: int = 0
    tokens_in_cached: int = 0  # of tokens_in, served from the LLM server's KV cache (a reused prompt prefix)
    tokens_out: int = 0
    cache_hits: int = 0
    malformed_outputs: int = 0
    asr_calls: int = 0  # speech recognition windows transcribed
    speech_audio_s: float = 0.0  # seconds of audio transcribed
    speech_s: float = 0.0  # wall seconds spent transcribing
    seconds: float = 0.0

    @property
    def captions_made(self) -> int:
        return sum(self.captions_by_level.values())


class Step(BaseModel):
    """One node of the graph having run: what it looked at, where it zoomed, what it called."""

    index: int
    node: str  # recall | answer | localize | zoom | finish | ...
    message: str  # one human-readable line, shown live by the CLI and notebooks
    spans: list[tuple[float, float]] = Field(default_factory=list)
    level: str | None = None
    frames_sampled: int = 0
    captions_added: int = 0
    captions_reused: int = 0
    model_calls: list[dict[str, Any]] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)
    elapsed_s: float = 0.0


class Progress(BaseModel):
    """Live progress inside a running step ("captioning 7/22 of 2:00-3:00", "asking the LLM"), streamed between
    Steps so a long zoom never leaves the screen frozen. Not part of the trajectory."""

    node: str
    message: str
    done: int | None = None
    total: int | None = None
    elapsed_s: float = 0.0


class ModelIds(BaseModel):
    """The models behind an answer, by the ids they are accounted and keyed under."""

    llm: str = ""
    captioner: str = ""
    embedder: str = ""
    asr: str | None = None  # only when the profile transcribes speech


class Provenance(BaseModel):
    """What it takes to replay an answer: the effective config (its digest), the models, the caption keys of
    every memory node the answer read, and the vidrecall version (core/digests.py, agent/provenance.py)."""

    config_digest: str = ""
    profile: str = ""
    models: ModelIds = Field(default_factory=ModelIds)
    caption_keys: list[str] = Field(default_factory=list)
    version: str = ""


class Answer(BaseModel):
    """The typed result of VideoQA.ask."""

    question: str
    options: list[str] = Field(default_factory=list)
    answer: str
    option: str | None = None  # the option letter for multiple-choice questions
    confidence: float = 0.0
    forced: bool = False  # True when a budget ran out and the final answer was forced
    decided_by: str = ""  # what decided the answer: "llm", "evidence", "llm+evidence", "fallback"
    reason: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    trajectory: list[Step] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)
    video: str = ""
    video_id: str = ""
    strategy: str = ""
    session_id: str | None = None
    error: str | None = None  # set when the question could not be answered (the model never replied, ...)
    stop: str = ""  # why the search ended: "confident", a spent budget ("budget spent: seconds 5/5"), ...
    notes: list[str] = Field(default_factory=list)  # how the question was handled, e.g. cut to a length cap
    provenance: Provenance | None = None  # filled by VideoQA.stream (None: made by hand, or by an older version)
    # Trust (agent/abstention.py, core/calibration.py): whether what the search read backs the answer; whether
    # it abstained (an open question answered "not found in the video", a multiple-choice letter given as a
    # guess or as the "not mentioned" option); what it searched; the judge's own confidence before calibration.
    grounded: bool = False
    abstained: bool = False
    searched: SearchedSummary | None = None
    raw_confidence: float | None = None  # None: made by hand or by an older version (then equal to confidence)
    calibrated: bool = False  # confidence went through the profile's calibration
    withheld: str = ""  # what the search ended on when abstaining replaced it: an open answer, or the option
    #                     the model chose before "not mentioned" was ("" when nothing was replaced)

    @property
    def guess(self) -> bool:
        """A multiple-choice letter given although nothing the search read backs it."""
        return self.abstained and self.option is not None and not (self.searched and self.searched.none_option)

    def trust_label(self) -> str:
        """"guess — not found in the video", "not found in the video", or "" for an answer the search backs."""
        if not self.abstained:
            return ""
        return "guess — not found in the video" if self.guess else "not found in the video"

    def summary(self) -> str:
        head = f"{self.option}. {self.answer}" if self.option and not self.answer.startswith(self.option) else self.answer
        spans = ", ".join(e.label() for e in self.evidence) or "none"
        label = f"{self.trust_label()}; " if self.abstained and self.option is not None else ""
        uncalibrated = "" if self.calibrated else ", uncalibrated"
        return f"{head}  ({label}confidence {self.confidence:.2f}{uncalibrated}; evidence {spans})"

