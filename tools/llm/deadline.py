"""The question's deadline, as in-process models see it: they stop generating AT it instead of being abandoned.

A remote call blocked on a socket cannot be interrupted, so `structured._invoke` waits on it in a daemon
thread and walks away at the deadline. A local model must not be walked away from: a thread still inside
torch's `generate` when the interpreter exits kills the process ("terminate called without an active
exception", exit 134). So local models run in the caller's thread with the deadline in a context variable
(not a generation kwarg: kwargs are part of the response-cache key), check it after every token, and raise
`GenerationOutOfTime` when it stopped them; their partial output is never a reply and never cached.
"""
from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("vidrecall_llm_deadline", default=None)


class GenerationOutOfTime(RuntimeError):
    """A local model stopped generating because the question's time budget ran out."""


@contextmanager
def generation_deadline(deadline: float | None) -> Iterator[None]:
    """Model calls made inside stop at `deadline` (a `time.monotonic()` value; None: no limit)."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def current_deadline() -> float | None:
    return _DEADLINE.get()


def passed(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def check_deadline(deadline: float | None) -> None:
    """Raise GenerationOutOfTime when `deadline` has passed (before a generation starts, after it stopped)."""
    if passed(deadline):
        raise GenerationOutOfTime("the question's time budget ran out during generation")


class StopAtDeadline:
    """A transformers stopping criterion: True for every sequence once the deadline has passed."""

    def __init__(self, deadline: float) -> None:
        self.deadline, self.fired = deadline, False

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        self.fired = self.fired or passed(self.deadline)
        return torch.full((input_ids.shape[0],), self.fired, dtype=torch.bool, device=input_ids.device)


class RaiseAtDeadline:
    """A llama.cpp logits processor that aborts the token loop (by raising) once the deadline has passed."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        check_deadline(self.deadline)
        return scores


__all__ = ["GenerationOutOfTime", "RaiseAtDeadline", "StopAtDeadline", "check_deadline", "current_deadline",
           "generation_deadline"]
