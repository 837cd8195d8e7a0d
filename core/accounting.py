"""Cost accounting: every model call records a Usage; a CostMeter sums them per question.

One meter travels with a question (the agent makes it, passes it to the LLM wrapper, the captioners
and the memory); nothing re-counts afterwards. Meters nest: `meter.child()` records into itself and
its parent, so a step can report its own calls while the question keeps the total.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from vidrecall.core.types import Usage


@dataclass
class CostMeter:
    calls: list[Usage] = field(default_factory=list)
    frames_decoded: int = 0
    captions_by_level: Counter = field(default_factory=Counter)
    captions_reused: int = 0
    malformed_outputs: int = 0
    started: float = field(default_factory=time.monotonic)
    parent: "CostMeter | None" = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, usage: Usage) -> None:
        with self._lock:
            self.calls.append(usage)
        if self.parent:
            self.parent.record(usage)

    def add_frames(self, n: int) -> None:
        with self._lock:
            self.frames_decoded += n
        if self.parent:
            self.parent.add_frames(n)

    def add_caption(self, level: str, reused: bool) -> None:
        with self._lock:
            if reused:
                self.captions_reused += 1
            else:
                self.captions_by_level[level] += 1
        if self.parent:
            self.parent.add_caption(level, reused)

    def add_malformed(self, n: int = 1) -> None:
        with self._lock:
            self.malformed_outputs += n
        if self.parent:
            self.parent.add_malformed(n)

    def child(self) -> "CostMeter":
        return CostMeter(parent=self)

    # --- totals -----------------------------------------------------------------------------
    def _calls(self, kind: str) -> list[Usage]:
        return [u for u in self.calls if u.kind == kind]

    @property
    def llm_calls(self) -> int:
        return sum(1 for u in self._calls("llm") if not u.cached)

    @property
    def vlm_calls(self) -> int:
        return sum(1 for u in self.calls if u.kind in ("vlm", "ocr") and not u.cached)

    @property
    def tokens_in(self) -> int:
        return sum(u.tokens_in for u in self.calls if not u.cached)

    @property
    def tokens_in_cached(self) -> int:
        """Of `tokens_in`, those a server read from its KV cache instead of reading the prompt again."""
        return sum(u.tokens_in_cached for u in self.calls if not u.cached)

    @property
    def tokens_out(self) -> int:
        return sum(u.tokens_out for u in self.calls if not u.cached)

    @property
    def llm_tokens(self) -> int:
        return sum(u.tokens_in + u.tokens_out for u in self._calls("llm") if not u.cached)

    @property
    def asr_calls(self) -> int:
        return sum(1 for u in self._calls("asr") if not u.cached)

    @property
    def speech_audio_seconds(self) -> float:
        """Audio transcribed (not reused from the memory) while this meter ran."""
        return sum(u.audio_seconds for u in self._calls("asr") if not u.cached)

    @property
    def speech_seconds(self) -> float:
        """Wall time spent in speech recognition."""
        return sum(u.latency_s for u in self._calls("asr") if not u.cached)

    @property
    def cache_hits(self) -> int:
        return sum(1 for u in self.calls if u.cached)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def summary(self) -> dict:
        return {
            "frames_decoded": self.frames_decoded,
            "captions_by_level": dict(self.captions_by_level),
            "captions_reused": self.captions_reused,
            "llm_calls": self.llm_calls,
            "vlm_calls": self.vlm_calls,
            "tokens_in": self.tokens_in,
            "tokens_in_cached": self.tokens_in_cached,
            "tokens_out": self.tokens_out,
            "cache_hits": self.cache_hits,
            "malformed_outputs": self.malformed_outputs,
            "asr_calls": self.asr_calls,
            "speech_audio_s": round(self.speech_audio_seconds, 3),
            "speech_s": round(self.speech_seconds, 3),
            "seconds": round(self.seconds, 3),
        }
