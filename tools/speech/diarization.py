"""Who spoke when (optional). A Diarizer labels time turns; labels flow into the transcript segments.

The pyannote implementation is used only when the user has its model (a local pipeline folder or a
cached Hugging Face pipeline); without one, diarization is off, and asking for it says how to get one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from vidrecall.tools.speech.audio import SAMPLE_RATE
from vidrecall.tools.speech.types import Segment, SpeechError

PYANNOTE_HINT = ("speaker diarization needs pyannote: pip install 'vidrecall[diarization]', accept the "
                 "pyannote/speaker-diarization-3.1 terms on huggingface.co, download it once, then set "
                 "speech.diarization to that model name or a local folder")


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


class Diarizer(Protocol):
    id: str

    def turns(self, samples: np.ndarray) -> list[Turn]:
        """Speaker turns in seconds from the samples' start."""


def label_segments(segments: list[Segment], turns: list[Turn]) -> list[Segment]:
    """Give each segment the speaker whose turns overlap it most (unchanged where no turn overlaps)."""
    for seg in segments:
        overlap: dict[str, float] = {}
        for t in turns:
            o = min(seg.end, t.end) - max(seg.start, t.start)
            if o > 0:
                overlap[t.speaker] = overlap.get(t.speaker, 0.0) + o
        if overlap:
            seg.speaker = max(overlap, key=lambda speaker: overlap[speaker])
    return segments


class PyannoteDiarizer:
    def __init__(self, model: str):
        try:
            from pyannote.audio import Pipeline
        except ImportError:
            raise SpeechError(PYANNOTE_HINT) from None
        path = Path(model).expanduser()
        source = str(path / "config.yaml") if path.is_dir() else str(path) if path.is_file() else model
        try:
            self._pipeline = Pipeline.from_pretrained(source, token=os.environ.get("HF_TOKEN") or None)
        except Exception as exc:  # noqa: BLE001 - pyannote raises many kinds; all mean "no usable model"
            raise SpeechError(f"cannot load the diarization model {model!r} ({type(exc).__name__}); "
                              + PYANNOTE_HINT) from None
        if self._pipeline is None:
            raise SpeechError(f"cannot load the diarization model {model!r}; " + PYANNOTE_HINT)
        self.id = f"pyannote:{path.name if path.exists() else model}"

    def turns(self, samples: np.ndarray) -> list[Turn]:
        import torch

        result = self._pipeline({"waveform": torch.from_numpy(samples[None, :]), "sample_rate": SAMPLE_RATE})
        annotation = getattr(result, "speaker_diarization", result)
        return [Turn(float(seg.start), float(seg.end), str(label))
                for seg, _track, label in annotation.itertracks(yield_label=True)]


def make_diarizer(spec: str | None) -> Diarizer | None:
    """None when off (empty spec); SpeechError with how to get a model when asked for but unavailable."""
    if not spec or spec in ("off", "none"):
        return None
    return PyannoteDiarizer(spec)
