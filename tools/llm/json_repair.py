"""Pull a JSON value out of what a language model actually wrote.

The repairing itself (single quotes, Python literals, bare keys, trailing commas, unterminated strings,
unclosed brackets) is the `json-repair` package's. What is specific to model replies stays here:
`<think>` blocks are dropped (`strip_reasoning`), fenced blocks are read first, every `{`/`[` in prose is a
possible start, and a reply that ran away (a small model starting a new object inside a list) is also
offered cut back to each complete member, so a caller validating against its schema keeps the first
candidate that fits. `closes_first_value` tells a generator when the object it opened is complete.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import json_repair as _json_repair  # the PyPI package (this module is vidrecall.tools.llm.json_repair)

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.DOTALL)
MAX_CUTS = 8  # cut-back candidates tried per start position (the last complete members first)


class JSONExtractionError(ValueError):
    """No JSON object could be recovered from a model's reply."""


def strip_reasoning(text: str) -> str:
    """Drop `<think>` blocks; an unclosed one (the model ran out of tokens thinking) leaves nothing."""
    text = _THINK_BLOCK.sub("", text)
    if "</think>" in text.lower():  # opening tag eaten by the chat template: keep what follows the close
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    lowered = text.lower()
    if "<think>" in lowered:
        text = text[: lowered.index("<think>")]
    return text


def json_candidates(text: str) -> Iterator[Any]:
    """Every JSON object or array recoverable from `text`, in order of appearance, fenced blocks first;
    after each start's whole reading, the same start cut back to its complete members."""
    body = strip_reasoning(text or "")
    sources = [m.group(1) for m in _FENCE.finditer(body)] + [body]
    seen: set[str] = set()
    for source in sources:
        for start in (i for i, ch in enumerate(source) if ch in "{["):
            fragment = source[start:]
            for piece in [fragment] + _member_cuts(fragment):
                repaired = repair_json(piece)
                if repaired is None or repaired in seen:
                    continue
                seen.add(repaired)
                yield json.loads(repaired)


def extract_json(text: str) -> Any:
    """The first JSON object (else array) in `text`; raises JSONExtractionError naming what was seen."""
    first = None
    for value in json_candidates(text):
        if isinstance(value, dict):
            return value
        first = value if first is None else first
    if first is not None:
        return first
    preview = " ".join((text or "").split())[:80]
    raise JSONExtractionError(f"no JSON object found in the reply {preview!r}")


def repair_json(fragment: str) -> str | None:
    """The JSON object/array that starts `fragment`, repaired to strict JSON by json-repair; None if none."""
    if not fragment or fragment[0] not in "{[":
        return None
    try:
        value = _json_repair.loads(fragment)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, (dict, list)) or not value:
        return None
    return json.dumps(value, ensure_ascii=False)


def closes_first_value(text: str) -> bool:
    """Whether the JSON object/array that `text` opens is complete (so generating more is waste)."""
    return _first_value_end(text) is not None


def _first_value_end(text: str) -> int | None:
    ends = _member_ends(text)
    return ends[-1] if ends and _depth_after(text, ends[-1]) == 0 else None


def _member_cuts(fragment: str) -> list[str]:
    """`fragment` cut right after each complete nested member, longest first (json-repair closes the rest)."""
    ends = [e for e in _member_ends(fragment) if _depth_after(fragment, e) > 0]
    return [fragment[:end] for end in reversed(ends[-MAX_CUTS:])]


def _brackets(text: str):
    """(index, +1 or -1) for each opening or closing bracket outside JSON strings."""
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            yield i, 1
        elif ch in "}]":
            yield i, -1


def _member_ends(text: str) -> list[int]:
    """Positions just after each closing bracket outside strings, up to where the first value closes."""
    ends, depth = [], 0
    for i, step in _brackets(text):
        depth += step
        if step < 0:
            ends.append(i + 1)
            if depth <= 0:
                break
    return ends


def _depth_after(text: str, end: int) -> int:
    return sum(step for _, step in _brackets(text[:end]))
