"""Scripted doubles that drive the agent's branches deterministically (tests, notebooks, demos).

`ScriptedChatModel` answers each agent role (read from the prompt's "# Task: <role>" line) from its
own queue of replies; `ScriptedCaptioner` captions real decoded frames with text chosen per span.
They replace only the model calls: memory, SQLite, FAISS, decoding and the graph stay real.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from vidrecall.core.types import CaptionRequest, CaptionResult, Span, Usage
from vidrecall.tools.captioners.base import ONE_AT_A_TIME

_ROLE = re.compile(r"^#\s*Task:\s*(\w+)", re.M)


def role_of(prompt: str) -> str:
    m = _ROLE.search(prompt)
    return m.group(1) if m else ""


class ScriptedChatModel(BaseChatModel):
    """Replies from per-role queues; a dict reply is sent as JSON; an exhausted queue repeats `default`."""

    scripts: dict[str, list[Any]] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    calls: list[tuple[str, str]] = Field(default_factory=list)  # (role, prompt) per call, in order

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        role = role_of(prompt)
        self.calls.append((role, prompt))
        queue = self.scripts.get(role) or []
        reply = queue.pop(0) if queue else self.defaults.get(role, "{}")
        text = reply if isinstance(reply, str) else json.dumps(reply)
        usage = {"input_tokens": len(prompt) // 4, "output_tokens": len(text) // 4,
                 "total_tokens": len(prompt) // 4 + len(text) // 4}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text, usage_metadata=usage))])

    def roles(self) -> list[str]:
        return [r for r, _ in self.calls]


class ScriptedToolChatModel(ScriptedChatModel):
    """A chat model with native tool calling, for the search strategy: each call with tools bound takes the next
    reply of `turns` -- a list of {"name", "args"} tool calls, one such dict, a plain string (a reply with no
    tool call), or a function of the messages returning one of those -- and an exhausted script repeats
    `default_turn`. Calls without tools (the forced answer's structured call) answer per role as
    ScriptedChatModel does. `tool_names` records the tools each call was given."""

    turns: list[Any] = Field(default_factory=list)
    default_turn: Any = None
    tool_names: list[list[str]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any):
        from langchain_core.utils.function_calling import convert_to_openai_tool

        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        tools = kwargs.get("tools")
        if not tools:
            return super()._generate(messages, stop, run_manager, **kwargs)
        self.tool_names.append([t["function"]["name"] for t in tools])
        prompt = "\n".join(str(m.content) for m in messages)
        self.calls.append(("tools", prompt))
        turn = self.turns.pop(0) if self.turns else self.default_turn
        if callable(turn):
            turn = turn(messages)
        if turn is None:
            turn = "I cannot tell."
        usage = {"input_tokens": len(prompt) // 4, "output_tokens": 10, "total_tokens": len(prompt) // 4 + 10}
        if isinstance(turn, str):
            message = AIMessage(content=turn, usage_metadata=usage)
        else:
            calls = [turn] if isinstance(turn, dict) else list(turn)
            message = AIMessage(content="", usage_metadata=usage, tool_calls=[
                {"name": c["name"], "args": dict(c.get("args") or {}), "id": f"call_{len(self.calls)}_{i}",
                 "type": "tool_call"} for i, c in enumerate(calls)])
        return ChatResult(generations=[ChatGeneration(message=message)])


class ScriptedCaptioner:
    """Captions real sampled frames with `text_for(span, level, instruction)`; counts what it captioned."""

    def __init__(self, text_for: Callable[[Span, str, str | None], str] | None = None, name: str = "scripted"):
        self.id = f"scripted:{name}"
        self.text_for = text_for or (lambda span, level, instruction: f"{level} view of {span.label()}")
        self.captioned: list[tuple[str, Span, str | None, int]] = []  # (level, span, instruction, frames)

    capacity = ONE_AT_A_TIME

    def preflight(self) -> None:
        return None

    def caption(self, request: CaptionRequest) -> CaptionResult:
        started = time.perf_counter()
        span = request.frames.span
        self.captioned.append((request.level, span, request.instruction, len(request.frames)))
        text = self.text_for(span, request.level, request.instruction)
        return CaptionResult(text, Usage(model=self.id, kind="vlm", images=len(request.frames),
                                         tokens_out=len(text.split()), latency_s=time.perf_counter() - started,
                                         role="caption"))

    def caption_batch(self, requests: list[CaptionRequest]) -> list[CaptionResult]:
        return [self.caption(r) for r in requests]


def fast_levels() -> list[dict]:
    """Sparse levels (60 s / 10 s / 1 s, one or two frames a clip, small frames) so tests decode little."""
    return [
        {"name": "coarse", "clip_seconds": 60, "frames_per_clip": 2, "max_pixels": 160 * 90, "prompt": "caption_coarse"},
        {"name": "fine", "clip_seconds": 10, "frames_per_clip": 1, "max_pixels": 160 * 90, "prompt": "caption_fine"},
        {"name": "ultrafine", "clip_seconds": 1, "frames_per_clip": 1, "max_pixels": 160 * 90, "prompt": "caption_fine"},
    ]
