"""What perception of speech produces: timed words and transcript segments, plus the one error type."""
from __future__ import annotations

import json
from dataclasses import dataclass, field


class SpeechError(RuntimeError):
    """Speech cannot be read (bad model path, unreachable server, unreadable subtitles); one line with the fix."""


class AudioDecodeError(SpeechError):
    """The audio track is there but cannot be decoded (corrupt); indexing skips speech with one warning."""


class SpeechSetupError(SpeechError):
    """Speech is set up wrong for every file alike (no model, unreachable server, a named subtitle file that
    is missing): the run stops with this one line instead of skipping speech file after file."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass
class Segment:
    """One stretch of speech: absolute video times in seconds, its text, its words and (when known) speaker."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None

    def shifted(self, seconds: float) -> "Segment":
        return Segment(self.start + seconds, self.end + seconds, self.text,
                       [Word(w.start + seconds, w.end + seconds, w.text, w.probability) for w in self.words],
                       self.speaker)

    def words_json(self) -> str | None:
        if not self.words:
            return None
        return json.dumps([[round(w.start, 2), round(w.end, 2), w.text.strip()] for w in self.words],
                          ensure_ascii=False)


def words_from_json(blob: str | None) -> list[Word]:
    """The words a speech node stored (`[[start, end, text], ...]`); [] when none."""
    if not blob:
        return []
    try:
        rows = json.loads(blob)
        return [Word(float(s), float(e), str(t)) for s, e, t in rows]
    except (ValueError, TypeError):
        return []
