"""Every agent decision is a pydantic object from an LLM call that cannot crash the agent loop.

`structured_call` asks for JSON matching a schema (natively through `response_format` where the model
supports it, else through the prompt), extracts and repairs the JSON, validates it, and re-asks with the
validation error appended, a bounded number of times. A model that never produces a valid object, or a
server that keeps failing, yields `Decision(ok=False, value=fallback, error=...)`; the caller decides.
`Decision.call_error` says the model never replied at all (HTTP 500, a rejected key, a timeout), as
opposed to replying badly. Every attempt records a `Usage` on the meter (a failed one with its error);
every malformed reply counts as malformed. Only replies that parsed are kept in the response cache.

With a `deadline` (a `time.monotonic()` value: the question's time budget) no call is started after it.
A local model (transformers, llama.cpp) runs in the caller's thread and stops generating at the deadline
(tools/llm/deadline.py); abandoning it would leave a native thread in `generate` that kills the process
at exit. A remote call runs in a daemon thread and is abandoned when the deadline passes, so a hung
server never holds the caller past its budget (its blocked socket read dies harmlessly with the process).
"""
from __future__ import annotations

import contextvars
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, convert_to_messages
from pydantic import BaseModel, ValidationError

from vidrecall.core.accounting import CostMeter
from vidrecall.tools.llm.cache import SQLiteResponseCache
from vidrecall.tools.llm.deadline import GenerationOutOfTime, generation_deadline
from vidrecall.tools.llm.json_repair import json_candidates, strip_reasoning
from vidrecall.tools.llm.preflight import describe_error
from vidrecall.tools.llm.usage import model_id, record, usage_from_message
from vidrecall.core.types import Usage

T = TypeVar("T", bound=BaseModel)

STRUCTURED_MODE_KEY = "vidrecall_structured"  # model.metadata: "auto" | "native" | "prompt"
_PERMANENT_ERRORS = {"AuthenticationError", "PermissionDeniedError", "NotFoundError"}
OUT_OF_TIME = "the question's time budget ran out before the model replied"


class LLMCallError(RuntimeError):
    """A plain-text LLM call failed (network, server, bad key); the message is one line, key-free."""


@dataclass
class Decision(Generic[T]):
    value: T
    ok: bool
    attempts: int
    raw: list[str] = field(default_factory=list)
    error: str | None = None
    call_error: str | None = None  # set when no attempt got a reply: the call itself failed (the cause)
    out_of_time: bool = False  # the time budget stopped it (no reply, and not the model's fault)


@dataclass
class _Reply:
    text: str
    error: str | None = None
    rejected_request: bool = False  # the server refused the request itself (e.g. an unsupported response_format)
    permanent: bool = False  # retrying cannot help (a rejected key, an unknown model, no time left)
    out_of_time: bool = False
    cache_key: str | None = None  # the response-cache entry this reply came from or went to
    message: BaseMessage | None = None  # the reply itself (its tool calls, for `chat_message`)


def structured_call(model: BaseChatModel, messages: Any, schema: type[T], *, fallback: T, retries: int = 2,
                    role: str = "", meter: CostMeter | None = None, instruct: bool = True,
                    deadline: float | None = None) -> Decision[T]:
    """Ask `model` for a `schema` object; at most `retries + 1` calls; never raises for bad output.

    `instruct=False` leaves the prompt alone when it already spells out the JSON format.
    """
    conversation = _as_messages(messages)
    if instruct:
        conversation = _append_to_last_user(conversation, schema_instruction(schema))
    native = supports_native_structured_output(model)
    raw: list[str] = []
    error: str | None = None
    out_of_time = False
    attempts = 0
    cache = response_cache(model)
    for attempts in range(1, retries + 2):
        extra = {"response_format": json_schema_format(schema)} if native else {}
        reply = _invoke(model, conversation, role=role, meter=meter, deadline=deadline, **extra)
        if reply.error is not None:
            error, out_of_time = reply.error, reply.out_of_time
            if reply.permanent:
                break
            if native and reply.rejected_request:
                native = False  # the server does not take response_format: ask through the prompt instead
            continue
        raw.append(reply.text)
        try:
            value = parse_reply(reply.text, schema)
        except ValueError as exc:
            if cache is not None:
                cache.forget(reply.cache_key)
            error = str(exc)
            if meter is not None:
                meter.add_malformed()
            conversation = conversation + [
                AIMessage(content=reply.text),
                HumanMessage(content=f"That reply was not valid: {error}. Reply again with only the JSON object "
                                     "that matches the schema."),
            ]
            continue
        if cache is not None:
            cache.keep(reply.cache_key)
        return Decision(value, True, attempts, raw, None)
    call_error = error if not raw and not out_of_time else None
    return Decision(fallback, False, attempts, raw, error, call_error, out_of_time and not raw)


def chat_text(model: BaseChatModel, messages: Any, *, role: str = "", meter: CostMeter | None = None,
              deadline: float | None = None) -> str:
    """One plain-text call with accounting; the visible reply (reasoning blocks removed).

    Raises LLMCallError (one line, no secrets) when the call itself fails. An empty reply is returned
    but not cached.
    """
    reply = _invoke(model, _as_messages(messages), role=role, meter=meter, deadline=deadline)
    if reply.error is not None:
        raise LLMCallError(reply.error)
    text = strip_reasoning(reply.text).strip()
    cache = response_cache(model)
    if cache is not None:
        (cache.keep if text else cache.forget)(reply.cache_key)
    return text


def chat_message(model: Any, messages: Any, *, role: str = "", meter: CostMeter | None = None,
                 deadline: float | None = None, **kwargs: Any) -> AIMessage | None:
    """One call with accounting that returns the reply message itself (its tool calls included): for a
    model with tools bound. None when the question's time budget ran out first; LLMCallError (one line, no
    secrets) when the call failed. A reply with text or tool calls is kept in the response cache."""
    reply = _invoke(model, _as_messages(messages), role=role, meter=meter, deadline=deadline, **kwargs)
    if reply.out_of_time:
        return None
    if reply.error is not None:
        raise LLMCallError(reply.error)
    message = reply.message if isinstance(reply.message, AIMessage) else AIMessage(content=reply.text)
    cache = response_cache(model)
    if cache is not None:
        (cache.keep if (message.tool_calls or reply.text.strip()) else cache.forget)(reply.cache_key)
    return message


def parse_reply(text: str, schema: type[T]) -> T:
    """The first JSON object in `text` that validates as `schema`; ValueError saying what was wrong."""
    first_error: str | None = None
    for candidate in json_candidates(text):
        try:
            return schema.model_validate(candidate)
        except ValidationError as exc:
            first_error = first_error or _validation_summary(exc)
    if first_error is not None:
        raise ValueError(first_error)
    preview = " ".join(strip_reasoning(text or "").split())[:80]
    raise ValueError(f"no JSON object found in the reply {preview!r}")


def supports_native_structured_output(model: Any) -> bool:
    mode = (getattr(model, "metadata", None) or {}).get(STRUCTURED_MODE_KEY, "auto")
    if mode != "auto":
        return mode == "native"
    from vidrecall.tools.llm.local_transformers import LocalTransformersChat

    if isinstance(model, LocalTransformersChat):
        return True  # JSON-prefilled replies
    try:
        from langchain_openai.chat_models.base import BaseChatOpenAI
    except ImportError:
        return False
    return isinstance(model, BaseChatOpenAI)


def json_schema_format(schema: type[BaseModel]) -> dict[str, Any]:
    """OpenAI's `response_format` for a pydantic schema (non-strict: optional fields stay optional)."""
    return {"type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema(), "strict": False}}


def schema_instruction(schema: type[BaseModel]) -> str:
    """Asks for JSON by example plus one line per field: small models copy a schema, not fill it."""
    compact = compact_schema(schema.model_json_schema())
    lines = [f"- {name} ({_type_label(prop)}){': ' + prop['description'] if prop.get('description') else ''}"
             for name, prop in compact.get("properties", {}).items()]
    return ("Reply with only one JSON object, no prose and no code fences, of this form:\n"
            + json.dumps(example_value(compact), ensure_ascii=False) + "\nFields:\n" + "\n".join(lines))


def example_value(node: dict[str, Any]) -> Any:
    """A placeholder value that has the shape `node` (a compact JSON schema) describes."""
    if node.get("default") not in (None, [], {}):
        return node["default"]
    if node.get("enum"):
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = [o for o in node.get(key, []) if o.get("type") != "null"]
        if options:
            return example_value(options[0])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        return {name: example_value(prop) for name, prop in node.get("properties", {}).items()}
    if kind == "array":
        items = node.get("items")
        return [example_value(items)] if isinstance(items, dict) and items else []
    bounds = [node[k] for k in ("minimum", "exclusiveMinimum") if k in node]
    by_type: dict[str | None, Any] = {"string": "...", "integer": int(bounds[0]) if bounds else 0,
                                      "number": float(bounds[0]) if bounds else 0.0, "boolean": False}
    return by_type.get(kind, None)


def _type_label(node: dict[str, Any]) -> str:
    if node.get("enum"):
        return "one of " + ", ".join(json.dumps(v) for v in node["enum"])
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        return " or ".join(_type_label(o) for o in options)
    label = node.get("type", "any")
    if label == "array" and isinstance(node.get("items"), dict):
        label = f"list of {_type_label(node['items'])}"
    low, high = node.get("minimum"), node.get("maximum")
    if low is not None and high is not None:
        label += f", {low} to {high}"
    return label


def compact_schema(node: Any, defs: dict[str, Any] | None = None) -> Any:
    """The JSON schema with `$ref`s inlined and titles dropped."""
    if isinstance(node, dict):
        if defs is None:
            defs = node.get("$defs", {})
        if "$ref" in node:
            return compact_schema(defs.get(node["$ref"].split("/")[-1], {}), defs)
        return {k: compact_schema(v, defs) for k, v in node.items() if k not in ("title", "$defs")}
    if isinstance(node, list):
        return [compact_schema(v, defs) for v in node]
    return node


def response_cache(model: Any) -> SQLiteResponseCache | None:
    cache = getattr(model, "cache", None)
    if cache is None and hasattr(model, "bound"):  # a RunnableBinding around the chat model
        cache = getattr(model.bound, "cache", None)
    return cache if isinstance(cache, SQLiteResponseCache) else None


def _invoke(model: BaseChatModel, messages: list[BaseMessage], *, role: str, meter: CostMeter | None,
            deadline: float | None = None, **kwargs: Any) -> _Reply:
    name = model_id(model)
    cache = response_cache(model)
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        return _Reply("", OUT_OF_TIME, permanent=True, out_of_time=True)  # no call is started
    started = time.perf_counter()

    def call() -> tuple[BaseMessage, bool, str | None]:
        if cache is None:  # (a cache is falsy while empty: it has a length)
            return model.invoke(messages, **kwargs), False, None
        hits_before = cache.hits_in_this_thread()
        cache.forget_last_key_in_this_thread()
        message = model.invoke(messages, **kwargs)
        return message, cache.hits_in_this_thread() > hits_before, cache.last_key_in_this_thread()

    try:
        if left is None:
            message, cached, key = call()
        else:
            with generation_deadline(deadline):  # local models stop at it; a local server is told it
                message, cached, key = call() if _stops_at_deadline(model) else _within(call, left)
    except (_OutOfTime, GenerationOutOfTime):
        record(meter, Usage(model=name, kind="llm", latency_s=round(time.perf_counter() - started, 4), ok=False,
                            role=role, error=OUT_OF_TIME, out_of_time=True))
        return _Reply("", OUT_OF_TIME, permanent=True, out_of_time=True)
    except Exception as exc:  # network, server, auth: reported to the caller, never raised into the agent
        cut = _cut_off_reply(exc)
        if cut is not None:  # the model replied but hit max_tokens: a bad reply (re-asked), not a dead model
            text, usage = cut
            record(meter, Usage(model=name, kind="llm", tokens_in=usage[0], tokens_out=usage[1], tokens_in_cached=usage[2],
                                latency_s=round(time.perf_counter() - started, 4), role=role))
            return _Reply(text)
        error = describe_error(exc, model)
        record(meter, Usage(model=name, kind="llm", latency_s=round(time.perf_counter() - started, 4), ok=False,
                            role=role, error=error))
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        return _Reply("", error, rejected_request="BadRequestError" in kinds,
                      permanent=bool(kinds & _PERMANENT_ERRORS))
    record(meter, usage_from_message(message, model=name, role=role, latency_s=time.perf_counter() - started,
                                     cached=cached))
    return _Reply(_message_text(message), cache_key=key, message=message)


def _cut_off_reply(exc: Exception) -> tuple[str, tuple[int, int, int]] | None:
    """(the text, (tokens in, out, in from the KV cache)) of a reply the OpenAI client refused to parse because
    it reached max_tokens (a model that rambled inside a JSON schema); None for any other error."""
    try:
        from openai import LengthFinishReasonError
    except ImportError:
        return None
    if not isinstance(exc, LengthFinishReasonError):
        return None
    completion = exc.completion
    text = (completion.choices[0].message.content or "") if completion.choices else ""
    usage = completion.usage
    if usage is None:
        return text, (0, 0, 0)
    cached = (usage.prompt_tokens_details.cached_tokens or 0) if usage.prompt_tokens_details else 0
    return text, (usage.prompt_tokens, usage.completion_tokens, cached)


def _stops_at_deadline(model: Any) -> bool:
    from vidrecall.tools.llm.local_transformers import stops_at_deadline

    return stops_at_deadline(model)


class _OutOfTime(Exception):
    pass


def _within(fn: Any, seconds: float) -> Any:
    """fn() in a daemon thread, waited on for at most `seconds`; then it is abandoned (a blocking HTTP read
    cannot be interrupted; it ends with the client's own timeout, and its reply is never cached)."""
    box: dict[str, Any] = {}
    done = threading.Event()
    context = contextvars.copy_context()  # LangChain's callbacks and run config live in context variables

    def run() -> None:
        try:
            box["value"] = context.run(fn)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="vidrecall-llm-call", daemon=True).start()
    if not done.wait(seconds):
        raise _OutOfTime
    if "error" in box:
        raise box["error"]
    return box["value"]


def _message_text(message: BaseMessage) -> str:
    return str(message.text)


def _as_messages(messages: Any) -> list[BaseMessage]:
    if isinstance(messages, str):
        return [HumanMessage(content=messages)]
    return list(convert_to_messages(messages))


def _append_to_last_user(messages: list[BaseMessage], text: str) -> list[BaseMessage]:
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        if isinstance(msg, HumanMessage) and isinstance(msg.content, str):
            updated = msg.model_copy(update={"content": f"{msg.content}\n\n{text}"})
            return messages[:i] + [updated] + messages[i + 1:]
    return messages + [HumanMessage(content=text)]


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "value"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)
