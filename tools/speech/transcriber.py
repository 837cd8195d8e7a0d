"""The Transcriber protocol and the settings every ASR backend shares (they shape the cache key)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vidrecall.tools.speech.types import Segment


@dataclass(frozen=True)
class AsrSettings:
    language: str | None = "en"  # None: let the model detect it
    vad: bool = True  # skip silence with Silero VAD (faster-whisper) before decoding
    vad_min_silence_ms: int = 500
    beam_size: int = 1
    word_timestamps: bool = True

    def key(self) -> dict:
        return {"language": self.language, "vad": self.vad, "vad_min_silence_ms": self.vad_min_silence_ms,
                "beam_size": self.beam_size, "words": self.word_timestamps}


class Transcriber(Protocol):
    """Turns 16 kHz mono samples into segments timed from the samples' start (0 s)."""

    id: str  # backend + model + what shapes the output; part of the speech cache key
    settings: "AsrSettings"  # language, VAD, beam: their key() joins the speech cache key

    def preflight(self) -> None:
        """Fail with one line (SpeechError) when the backend cannot work, before any audio is decoded."""

    def transcribe(self, samples: np.ndarray) -> list[Segment]:
        ...
