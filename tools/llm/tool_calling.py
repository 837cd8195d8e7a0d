"""Native tool calling: which chat models can do it, and reading a tool call a small model wrote as text.

A model "calls tools" when its LangChain class implements `bind_tools` (ChatOpenAI and so the llama.cpp
server, vLLM and every OpenAI-compatible server; ChatOllama; ChatAnthropic). The local transformers
backbone (smollm2, `transformers:`, `gguf:`) has no tool-calling path, and a model's metadata may say
`vidrecall_tool_calling: false` for a server known to refuse `tools`. `require_tool_calling` turns "cannot"
into one line naming the fix, before any video work.

Small models served by llama.cpp often answer a tool request with the call written out as JSON (in a code
fence, or inside `<tool_call>` tags the server did not parse) instead of a parsed call;
`tool_calls_in_text` reads those back, for the tools the caller names only.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from langchain_core.language_models import BaseChatModel

from vidrecall.tools.llm.errors import BackboneError
from vidrecall.tools.llm.json_repair import json_candidates
from vidrecall.tools.llm.usage import model_id

TOOL_CALLING_KEY = "vidrecall_tool_calling"  # model.metadata: False for a model known not to take `tools`


def supports_tool_calling(model: Any) -> bool:
    """Whether `model` (a chat model, or a RunnableBinding around one) can be given tools to call."""
    metadata = getattr(model, "metadata", None) or {}
    if metadata.get(TOOL_CALLING_KEY) is False:
        return False
    inner = getattr(model, "bound", model)
    if not isinstance(inner, BaseChatModel):
        return False
    return type(inner).bind_tools is not BaseChatModel.bind_tools


def require_tool_calling(model: Any, purpose: str) -> None:
    """BackboneError (one line, the fix) when `model` cannot call tools."""
    if supports_tool_calling(model):
        return
    inner = getattr(model, "bound", model)
    raise BackboneError(f"{purpose} needs an LLM with native tool calling, and {model_id(inner)} "
                        f"({type(inner).__name__}) has none: use e.g. --llm llamacpp:qwen2.5-coder-1.5b, "
                        "openai-compatible:<model>, ollama:<model> or openai:<model>, or another --strategy")


_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)


def tool_calls_in_text(text: str, names: set[str] | frozenset[str]) -> list[dict[str, Any]]:
    """LangChain tool calls ({"name", "args", "id", "type"}) written as JSON in a reply's text: objects with a
    `name` among `names` and `arguments` (or `args`, `parameters`) holding an object, in `<tool_call>` tags, a
    code fence or plain; or the arguments alone inside a tag named after the tool (`<answer>{...}</answer>`).
    [] when there is none."""
    calls: list[dict[str, Any]] = []
    for name in sorted(names):  # <answer>{"answer": "A", ...}</answer>: the tool's name as the tag, its arguments inside
        for m in re.finditer(rf"<{re.escape(name)}>\s*(.*?)\s*(?:</{re.escape(name)}>|$)", text or "", re.S):
            args = next((c for c in json_candidates(m.group(1)) if isinstance(c, dict)), None)
            if args is not None:
                calls.append(_as_call({"name": name, "arguments": args}, names) or {})
    if calls:
        return [c for c in calls if c]
    pieces = [m.group(1) for m in _TAGGED.finditer(text or "")] or [text or ""]
    for piece in pieces:
        for candidate in json_candidates(piece):
            for item in candidate if isinstance(candidate, list) else [candidate]:
                call = _as_call(item, names)
                if call is not None:
                    calls.append(call)
            if calls:
                break
    return calls


def _as_call(item: Any, names: set[str] | frozenset[str]) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("function"), dict):  # {"type": "function", "function": {...}}
        item = item["function"]
    name = item.get("name")
    if not isinstance(name, str) or name not in names:
        return None
    args: Any = next((item[k] for k in ("arguments", "args", "parameters") if k in item), {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return None
    if not isinstance(args, dict):
        return None
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


__all__ = ["TOOL_CALLING_KEY", "require_tool_calling", "supports_tool_calling", "tool_calls_in_text"]
