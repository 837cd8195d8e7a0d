"""What one piece of work reports to: where its progress goes, what it costs, and whether to stop.

Indexing, speech and a question's zoom take one `RunContext` instead of threading a progress flag, a
progress callback and a cost meter through every signature.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from vidrecall.core.accounting import CostMeter
from vidrecall.core.progress import ProgressEvent, ProgressSink, silent


class Cancelled(Exception):
    """The caller asked the work to stop; everything committed before stays."""


@dataclass
class RunContext:
    progress: ProgressSink = silent
    meter: CostMeter = field(default_factory=CostMeter)
    cancel: threading.Event = field(default_factory=threading.Event)

    def report(self, event: ProgressEvent) -> None:
        self.progress(event)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def check(self) -> None:
        """Raise Cancelled when the caller asked to stop (between clips, never inside a model call)."""
        if self.cancel.is_set():
            raise Cancelled("cancelled")

    def with_meter(self, meter: CostMeter) -> "RunContext":
        """The same sink and cancel flag, counting into `meter` (a step's child meter)."""
        return RunContext(self.progress, meter, self.cancel)
