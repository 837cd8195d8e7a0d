"""Questions answered by comparing times, and what their options mean on the video's clock.

Small models order events badly ("said the later of two events came first"), so for these questions
the LLM only says where each option or event is, and the program does the arithmetic (agent/timeline.py):
- order: "Which was shown first?", "Which did the narrator mention last?" (the options are events);
- when: "When was the boat mentioned?" (the options are times, ranges or parts of the video);
- how long after: "How long after the title did the credits appear?" (the options are durations);
- how many times: "How many times is the logo shown?" (the options are counts).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from vidrecall.agent.options import Option
from vidrecall.tools.speech.spoken_numbers import normalise_numbers


class TimeQuestion(str, Enum):
    FIRST = "first"  # the option that happens earliest
    LAST = "last"  # the option that happens latest
    WHEN = "when"
    HOW_LONG_AFTER = "how_long_after"
    HOW_MANY = "how_many"

    @property
    def orders_options(self) -> bool:
        return self in (TimeQuestion.FIRST, TimeQuestion.LAST)


_HOW_MANY = re.compile(r"\bhow (?:many times|often)\b", re.I)
_HOW_LONG_AFTER = re.compile(r"\bhow (?:long|much time|many (?:seconds|minutes))\b.*\b(?:after|before|between|pass)",
                             re.I)
_WHEN = re.compile(r"^\W*when\b|\bwhen (?:is|was|did|does|do|were|are)\b|\bat (?:what|which) (?:time|point|moment)\b"
                   r"|\b(?:around|about|roughly|approximately) (?:what time|when)\b|\bin which part of the video\b", re.I)
_FIRST = re.compile(r"\b(?:first|earliest|earlier|sooner|before the other|(?:comes?|came|happens?|happened) before)\b",
                    re.I)
_LAST = re.compile(r"\b(?:last|latest|later|after the other|(?:comes?|came|happens?|happened) after|most recently)\b",
                   re.I)
_NOT_ORDER = re.compile(r"\b(?:first|last) (?:name|names|place|aid)\b|\bat (?:first|last)\b", re.I)
_OTHER_ORDINALS = re.compile(r"\b(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th))\b", re.I)


def time_question(question: str, options: list[Option]) -> TimeQuestion | None:
    """What kind of time comparison `question` asks for, or None when it asks none (or has no options)."""
    if len(options) < 2:
        return None
    if _HOW_MANY.search(question):
        return TimeQuestion.HOW_MANY if all(option_count(o) is not None for o in options) else None
    if _HOW_LONG_AFTER.search(question):
        return TimeQuestion.HOW_LONG_AFTER if all(option_duration(o) is not None for o in options) else None
    if _WHEN.search(question):  # options that are times alone ("What time does the clock show?") are read
        return TimeQuestion.WHEN if all(option_window(o, 1.0) is not None for o in options) else None
    if _OTHER_ORDINALS.search(question) or _NOT_ORDER.search(question):
        return None
    first, last = _FIRST.search(question), _LAST.search(question)
    if first and not last:
        return TimeQuestion.FIRST
    if last and not first:
        return TimeQuestion.LAST
    return None


# --- what an option means -------------------------------------------------------------------------
_CLOCK = r"(?:\d{1,2}:)?\d{1,2}:\d{2}"
_RANGE = re.compile(rf"({_CLOCK})\s*(?:-|–|to|and)\s*({_CLOCK})")
_ONE_CLOCK = re.compile(rf"\b({_CLOCK})\b")
_MINUTE_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|–|to|and)\s*(\d+(?:\.\d+)?)\s*(minutes?|mins?|seconds?|secs?|s)\b",
                           re.I)
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(hours?|hrs?|minutes?|mins?|seconds?|secs?|s)\b", re.I)
_QUARTERS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": 3, "final": 3}
_QUARTER = re.compile(r"\b(first|second|third|fourth|last|final) quarter\b", re.I)
_HALF = re.compile(r"\b(first|second|last) half\b", re.I)
_THIRDS = ((re.compile(r"\b(?:beginning|start|opening|early)\b", re.I), 0),
           (re.compile(r"\b(?:middle|halfway|midway)\b", re.I), 1),
           (re.compile(r"\b(?:end|ending|close|closing|late|final minutes)\b", re.I), 2))
APPROXIMATE_S = 30.0  # "around 2:30" covers 2:00-3:00


def clock_seconds(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def _unit_seconds(unit: str) -> float:
    unit = unit.lower()
    return 3600.0 if unit.startswith("h") else 60.0 if unit.startswith("m") else 1.0


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    def distance(self, t: float) -> float:
        return 0.0 if self.start <= t <= self.end else min(abs(t - self.start), abs(t - self.end))


def option_window(option: Option, duration: float) -> Window | None:
    """The part of the video an option of a "when" question names (None when it names no time)."""
    text = normalise_numbers(option.text)
    if m := _RANGE.search(text):
        a, b = sorted((clock_seconds(m.group(1)), clock_seconds(m.group(2))))
        return Window(a, b)
    if m := _MINUTE_RANGE.search(text):
        unit = _unit_seconds(m.group(3))
        a, b = sorted((float(m.group(1)) * unit, float(m.group(2)) * unit))
        return Window(a, b)
    if m := _ONE_CLOCK.search(text):
        t = clock_seconds(m.group(1))
        return Window(max(0.0, t - APPROXIMATE_S), t + APPROXIMATE_S)
    if (m := _AMOUNT.search(text)) and re.search(r"\b(?:at|around|about|after|near|roughly)\b", text, re.I):
        t = float(m.group(1)) * _unit_seconds(m.group(2))
        return Window(max(0.0, t - APPROXIMATE_S), t + APPROXIMATE_S)
    if m := _QUARTER.search(text):
        q = _QUARTERS[m.group(1).lower()]
        return Window(q * duration / 4, (q + 1) * duration / 4)
    if m := _HALF.search(text):
        h = 0 if m.group(1).lower() == "first" else 1
        return Window(h * duration / 2, (h + 1) * duration / 2)
    for pattern, third in _THIRDS:
        if pattern.search(text):
            return Window(third * duration / 3, (third + 1) * duration / 3)
    return None


def option_duration(option: Option) -> float | None:
    """Seconds an option of a "how long after" question names ("about 2 minutes", "90 seconds", "1:30")."""
    text = normalise_numbers(option.text)
    amounts = _AMOUNT.findall(text)
    if amounts:
        return sum(float(n) * _unit_seconds(u) for n, u in amounts)
    if m := _ONE_CLOCK.search(text):
        return clock_seconds(m.group(1))
    return None


def option_count(option: Option) -> int | None:
    """The count an option of a "how many times" question names ("three", "3 times", "once", "twice")."""
    text = normalise_numbers(option.text).lower()
    for word, n in (("never", 0), ("once", 1), ("twice", 2), ("thrice", 3)):
        if re.search(rf"\b{word}\b", text):
            return n
    m = re.search(r"\b(\d+)\b", text)
    return int(m.group(1)) if m else None
