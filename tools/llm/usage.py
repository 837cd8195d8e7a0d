"""Turn a chat model's reply into a `Usage` and record it on a `CostMeter`.

`usage_from_message` serves the wrappers in structured.py; `MeterCallback` is for code that calls a
chat model directly (pass it in `config={"callbacks": [MeterCallback(meter, role)]}`).
"""
from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import LLMResult

from vidrecall.core.accounting import CostMeter
from vidrecall.core.types import Usage

MODEL_ID_KEY = "vidrecall_model_id"


def model_id(model: Any) -> str:
    """A readable id for accounting: the spec the factory built it from, else the provider's model name."""
    if hasattr(model, "bound"):  # a RunnableBinding (a model with tools bound): the model inside
        model = model.bound
    metadata = getattr(model, "metadata", None) or {}
    if metadata.get(MODEL_ID_KEY):
        return str(metadata[MODEL_ID_KEY])
    for attr in ("model_id", "model_name", "model"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def token_counts(message: BaseMessage | None) -> tuple[int, int]:
    """(input tokens, output tokens) from `usage_metadata`, falling back to OpenAI's `token_usage`."""
    usage = getattr(message, "usage_metadata", None) or {}
    if usage:
        return int(usage.get("input_tokens", 0) or 0), int(usage.get("output_tokens", 0) or 0)
    meta = (getattr(message, "response_metadata", None) or {}).get("token_usage") or {}
    return int(meta.get("prompt_tokens", 0) or 0), int(meta.get("completion_tokens", 0) or 0)


def prefix_cached_tokens(message: BaseMessage | None) -> int:
    """Prompt tokens the server read from its KV cache (OpenAI's `prompt_tokens_details.cached_tokens`)."""
    usage = getattr(message, "usage_metadata", None) or {}
    details = usage.get("input_token_details") or {}
    if details.get("cache_read"):
        return int(details["cache_read"])
    meta = (getattr(message, "response_metadata", None) or {}).get("token_usage") or {}
    return int((meta.get("prompt_tokens_details") or {}).get("cached_tokens", 0) or 0)


def usage_from_message(message: BaseMessage | None, *, model: str, role: str = "", latency_s: float = 0.0,
                       cached: bool = False, ok: bool = True) -> Usage:
    tokens_in, tokens_out = token_counts(message)
    return Usage(model=model, kind="llm", tokens_in=tokens_in, tokens_out=tokens_out,
                 tokens_in_cached=prefix_cached_tokens(message), latency_s=round(latency_s, 4), cached=cached,
                 ok=ok, role=role)


def record(meter: CostMeter | None, usage: Usage) -> Usage:
    if meter is not None:
        meter.record(usage)
    return usage


class MeterCallback(BaseCallbackHandler):
    """Records one `Usage` per chat-model call on a meter (latency from start to end of each run)."""

    def __init__(self, meter: CostMeter, role: str = "", model: str | BaseChatModel | None = None) -> None:
        self.meter = meter
        self.role = role
        self.model = model if isinstance(model, str) or model is None else model_id(model)
        self._started: dict[UUID, float] = {}

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *,
                            run_id: UUID, **kwargs: Any) -> None:
        self._started[run_id] = time.perf_counter()

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        latency = time.perf_counter() - self._started.pop(run_id, time.perf_counter())
        name = self.model or (response.llm_output or {}).get("model_name") or "llm"
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                record(self.meter, usage_from_message(message if isinstance(message, AIMessage) else None,
                                                      model=name, role=self.role, latency_s=latency))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        latency = time.perf_counter() - self._started.pop(run_id, time.perf_counter())
        record(self.meter, Usage(model=self.model or "llm", kind="llm", latency_s=round(latency, 4), ok=False,
                                 role=self.role))
