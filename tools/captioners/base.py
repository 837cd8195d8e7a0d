"""The captioner interface: frames + timestamps + instruction -> text, with usage recorded."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vidrecall.core.types import CaptionRequest, CaptionResult


class CaptionerError(RuntimeError):
    """A captioner could not run (bad model path, unreachable server); one line, with the fix."""


@dataclass(frozen=True)
class Capacity:
    """How a captioner takes work: `in_flight` requests at once (an API server: one clip each, run in
    parallel), each of `per_call` clips (a local model batching clips into one forward pass)."""

    in_flight: int = 1
    per_call: int = 1


ONE_AT_A_TIME = Capacity()


@runtime_checkable
class Captioner(Protocol):
    """Anything that captions frames.

    `id` names the model and every setting that changes its output; it is part of the memory cache key,
    so two captioners with the same id must caption the same frames the same way.

    `capacity` says how the indexing engines feed it (vidrecall.indexing).
    """

    id: str

    @property
    def capacity(self) -> Capacity: ...

    def caption(self, request: CaptionRequest) -> CaptionResult: ...

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]: ...

    def preflight(self) -> None:
        """Raise CaptionerError (one line, with the fix) when the backend cannot work; no video work yet."""
        ...


class BatchByLoop:
    """Mixin: caption_batch as a loop over caption, for backends with no native batching."""

    capacity = ONE_AT_A_TIME

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        return [self.caption(r) for r in requests]  # type: ignore[attr-defined]
