"""The captioner interface: frames + timestamps + instruction -> text, with usage recorded."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from vidrecall.core.types import CaptionRequest, CaptionResult


class CaptionerError(RuntimeError):
    """A captioner could not run (bad model path, unreachable server); one line, with the fix."""


@runtime_checkable
class Captioner(Protocol):
    """Anything that captions frames.

    `id` names the model and every setting that changes its output; it is part of the memory cache key,
    so two captioners with the same id must caption the same frames the same way.

    Capacity (read by memory/pipeline.py, both optional): `max_concurrency` — requests it takes at once
    (API captioners; the pipeline runs that many `caption` calls in parallel), else `batch_size` — clips
    per `caption_batch` call (local models; one call at a time, batches filled from the decode queue).
    """

    id: str

    def caption(self, request: CaptionRequest) -> CaptionResult: ...

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]: ...

    def preflight(self) -> None:
        """Raise CaptionerError (one line, with the fix) when the backend cannot work; no video work yet."""
        ...


class BatchByLoop:
    """Mixin: caption_batch as a loop over caption, for backends with no native batching."""

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        return [self.caption(r) for r in requests]  # type: ignore[attr-defined]
