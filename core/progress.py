"""One progress sink for all long work (captioning a level, transcribing, embedding, a folder of videos).

Work reports `ProgressEvent`s to a `ProgressSink`, a plain callable; adapters turn them into what a
caller shows: `TqdmBars` (terminal and notebook), a web job's counters, LangGraph custom stream events
(vidrecall.agent.steps). Work never decides how progress looks; a caller that wants none passes `silent`.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from vidrecall.core.types import Span


@dataclass(frozen=True)
class ProgressEvent:
    """`done` of `total` units of one task. `task` names what is counted ("coarse captions", "speech",
    "videos"); for captions `level` is set, `span` is the clip that just finished (None on the first event,
    which counts what was stored before) and `created` says whether this run captioned it."""

    task: str
    done: float
    total: float | None = None
    unit: str = "clip"
    level: str | None = None
    span: Span | None = None
    created: bool = False
    note: str = ""

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total


class ProgressSink(Protocol):
    def __call__(self, event: ProgressEvent) -> None: ...


def silent(event: ProgressEvent) -> None:
    """The sink of work nobody watches."""


def fan_out(*sinks: ProgressSink) -> ProgressSink:
    """One sink feeding several (a bar and a web job, say)."""
    def send(event: ProgressEvent) -> None:
        for sink in sinks:
            sink(event)

    return send


# C0 controls but \t and \n, DEL, C1 (ESC, CSI, OSC and the rest) and lone surrogates (the undecodable bytes
# of a non-UTF-8 file name, which no UTF-8 terminal can even be sent)
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def terminal_text(text: str, *, one_line: bool = False) -> str:
    """`text` safe to write to a terminal: every control character (ESC of `\\x1b[2J` or an OSC-8 link
    among them) written out as a visible escape (`\\x1b`), the undecodable bytes of a file name as `\\xff`;
    tabs and newlines stay unless `one_line`. Captions, OCR, subtitles, model replies and file names are
    data: printed, never obeyed."""
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub(_escape, text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogate escape of byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"


class TqdmBars:
    """A tqdm bar per task (tqdm.auto: a widget in notebooks), opened on a task's first event that has
    something left to do and closed when it finishes. Tasks that were already complete show nothing."""

    def __init__(self, *, leave: bool = True, min_total: float = 0) -> None:
        self._bars: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.leave = leave
        self.min_total = min_total  # smaller tasks are not worth a bar (embedding a few captions)

    def __call__(self, event: ProgressEvent) -> None:
        from tqdm.auto import tqdm

        with self._lock:
            bar = self._bars.get(event.task)
            if bar is None:
                if event.finished or (event.total is not None and event.total < self.min_total):
                    return
                bar = self._bars[event.task] = tqdm(total=event.total, initial=round(event.done), unit=event.unit,
                                                    desc=terminal_text(event.task, one_line=True),
                                                    leave=self.leave)
            bar.update(round(event.done) - bar.n)
            if event.finished:
                bar.close()
                del self._bars[event.task]

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()


def counted(sink: ProgressSink, task: str, total: float, *, unit: str = "clip") -> Callable[[float], None]:
    """A step function for a plain count: `step(n)` reports n more units of `task` done."""
    done = [0.0]
    lock = threading.Lock()
    sink(ProgressEvent(task, 0, total, unit))

    def step(n: float = 1) -> None:
        with lock:
            done[0] += n
            value = done[0]
        sink(ProgressEvent(task, value, total, unit))

    return step
