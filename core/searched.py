"""What a question's search read before it ended: the basis of a "not found in the video" answer.

Plain data, filled by the agent's shared `finish` node (agent/abstention.py) from the graph's state: the
memory entries it read (their levels and spans), the spans it zoomed into, and what of the sound the profile
remembers. `describe()` is the one line an abstaining answer and the cards show.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from vidrecall.core.types import TIME_EPS, fmt_time

MAX_SPANS_LISTED = 4  # spans named per level in `describe`; the rest are counted
WHOLE_VIDEO = 0.98  # a level whose read spans cover this share of the video "covers the whole video"
SPEECH_SOURCES_SAID = {"asr": "transcribed speech", "subtitles": "subtitles", "both": "transcribed speech and subtitles"}


class SearchedSummary(BaseModel):
    """Which spans were read at which levels, what was zoomed into, and whether speech was among it."""

    duration: float = 0.0  # the video's (or library timeline's) length, seconds
    levels: dict[str, list[tuple[float, float]]] = Field(default_factory=dict)  # level -> spans read (merged), coarse first
    zoomed: list[tuple[float, float]] = Field(default_factory=list)  # spans the agent looked closer at
    captions: int = 0  # visual memory entries read
    speech_source: str = "off"  # the profile's speech.source: off | asr | subtitles | both
    speech_read: int = 0  # speech entries (transcript or subtitle passages) read
    none_option: str | None = None  # the "not mentioned" option chosen because no other option had evidence

    def covers_whole_video(self, level: str) -> bool:
        spans = self.levels.get(level) or []
        return self.duration > 0 and sum(e - s for s, e in spans) >= WHOLE_VIDEO * self.duration

    def describe(self) -> str:
        """"the whole video (0:00-2:19) at coarse; 1:00-1:10 at fine; speech: off (the profile does not listen)"."""
        parts = []
        for level, spans in self.levels.items():
            if self.covers_whole_video(level):
                parts.append(f"the whole video (0:00-{fmt_time(self.duration)}) at {level}")
            elif spans:
                shown = ", ".join(f"{fmt_time(s)}-{fmt_time(e)}" for s, e in spans[:MAX_SPANS_LISTED])
                more = f" and {len(spans) - MAX_SPANS_LISTED} more spans" if len(spans) > MAX_SPANS_LISTED else ""
                parts.append(f"{shown}{more} at {level}")
        read = "; ".join(parts) or "no memory at all"
        if self.speech_source == "off":
            speech = "speech: off (this profile does not listen)"
        else:
            said = SPEECH_SOURCES_SAID.get(self.speech_source, self.speech_source)
            speech = (f"speech: {said}, {self.speech_read} passage{'s' if self.speech_read != 1 else ''} read"
                      if self.speech_read else f"speech: {said}, none of it read (none stored or none relevant)")
        return f"{read}; {speech}"


def merged_spans(spans: list[tuple[float, float]], gap: float = TIME_EPS) -> list[tuple[float, float]]:
    """Spans sorted and joined where they touch or overlap (within `gap` seconds)."""
    out: list[tuple[float, float]] = []
    for start, end in sorted((min(s, e), max(s, e)) for s, e in spans):
        if out and start <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return [(round(s, 3), round(e, 3)) for s, e in out]
