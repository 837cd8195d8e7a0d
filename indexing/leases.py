"""Leases on caption keys: before a clip is decoded its key is claimed in the store, so two runs on one
store (two processes, a web job and a question, a Ray driver and a serial run) split the work instead of
doing it twice. A clip another live holder has is waited for: its caption arrives (reused), or the lease
expires or its holder dies and this run takes it over. Leases are renewed while held and released on
commit or exit; a crash on another machine delays its clips by at most `seconds`.
"""
from __future__ import annotations

import enum
import threading
from types import TracebackType

from vidrecall.memory.memory import VideoMemory
from vidrecall.memory.owners import holder_is_dead, new_owner

LEASE_SECONDS = 60.0
POLL_SECONDS = 0.25  # how often a run waiting for another's clips looks again


class Claim(enum.Enum):
    STORED = "stored"  # the caption is in the store already: nothing to do
    MINE = "mine"  # this run makes it
    HELD = "held"  # another live run is making it: try again later


class Leases:
    """This run's leases; a context manager that renews them in the background and releases them at exit."""

    def __init__(self, memory: VideoMemory, seconds: float = LEASE_SECONDS, owner: str | None = None) -> None:
        self.memory = memory
        self.seconds = seconds
        self.owner = owner or new_owner()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def take(self, key: str) -> Claim:
        if self.memory.find(key) is not None:
            return Claim.STORED
        if not self.memory.claim(key, self.owner, self.seconds, take_over=holder_is_dead):
            return Claim.HELD
        if self.memory.find(key) is not None:  # committed by its last holder just before we claimed
            self.memory.release(key, self.owner)
            return Claim.STORED
        return Claim.MINE

    def release(self, key: str) -> None:
        self.memory.release(key, self.owner)

    def wait(self) -> None:
        self._stop.wait(POLL_SECONDS)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            self.memory.renew(self.owner, self.seconds)

    def __enter__(self) -> "Leases":
        self._renewer = threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        self.memory.release_all(self.owner)
