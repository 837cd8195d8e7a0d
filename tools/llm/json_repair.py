"""Pull a JSON value out of what a language model actually wrote, repairing the usual damage.

Models wrap JSON in code fences, put prose or `<think>...</think>` blocks before it, write Python dicts
(single quotes, True/False/None), leave trailing commas or unquoted keys, and stop mid-object when they
run out of tokens. `json_candidates` yields every JSON object/array it can recover, first one first, so
a caller can validate each against its schema and keep the first that fits.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.DOTALL)
_PY_LITERALS = {"True": "true", "False": "false", "None": "null", "true": "true", "false": "false",
                "null": "null"}
_CLOSER = {"{": "}", "[": "]"}


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
    """Every JSON object or array recoverable from `text`, in order of appearance, fenced blocks first."""
    body = strip_reasoning(text or "")
    sources = [m.group(1) for m in _FENCE.finditer(body)] + [body]
    seen: set[str] = set()
    for source in sources:
        for start in (i for i, ch in enumerate(source) if ch in "{["):
            repaired = repair_json(source[start:])
            if repaired is None or repaired in seen:
                continue
            seen.add(repaired)
            try:
                yield json.loads(repaired)
            except json.JSONDecodeError:
                continue


def extract_json(text: str) -> Any:
    """The first JSON object or array in `text`; raises JSONExtractionError naming what was seen."""
    values = list(json_candidates(text))
    for value in values:
        if isinstance(value, dict):
            return value
    if values:
        return values[0]
    preview = " ".join((text or "").split())[:80]
    raise JSONExtractionError(f"no JSON object found in the reply {preview!r}")


def closes_first_value(text: str) -> bool:
    """Whether the JSON object/array that `text` opens is complete (so generating more is waste)."""
    depth, in_string, escaped, opened = 0, False, False, False
    for ch in text:
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
            depth, opened = depth + 1, True
        elif ch in "}]":
            depth -= 1
            if opened and depth <= 0:
                return True
    return False


def repair_json(fragment: str) -> str | None:
    """Rewrite the JSON-ish value that starts `fragment` as strict JSON, or None when there is none.

    Reads one value (object or array) token by token: converts single-quoted strings, Python literals
    and bare keys; drops trailing commas; closes an unterminated string and the open brackets when the
    text stops early, cutting back to the last complete member if the cut falls inside one.
    """
    out: list[str] = []
    stack: list[str] = []
    safe_cuts: list[tuple[int, list[str]]] = []  # (len(out), stack) after each complete member
    i, n = 0, len(fragment)
    while i < n:
        ch = fragment[i]
        if ch in "\"'":
            text, i, closed = _read_string(fragment, i)
            out.append(json.dumps(text, ensure_ascii=False))
            if not closed:
                break
            continue
        if ch in "{[":
            stack.append(ch)
            out.append(ch)
        elif ch in "}]":
            if not stack or _CLOSER[stack[-1]] != ch:
                break  # a closer that does not match: the reply went off the rails here
            _drop_trailing_comma(out)
            out.append(_CLOSER[stack.pop()])
            if not stack:
                done = "".join(out)
                return done if _is_json(done) else _close_truncated(out[:-1], ["{" if ch == "}" else "["],
                                                                     safe_cuts)
            safe_cuts.append((len(out), list(stack)))
        elif ch == ",":
            _drop_trailing_comma(out)
            safe_cuts.append((len(out), list(stack)))
            out.append(",")
        elif ch == ":":
            if not stack or stack[-1] != "{":
                if safe_cuts:  # a key inside a list: garbage from that key on
                    del out[safe_cuts[-1][0]:]
                    stack = list(safe_cuts[-1][1])
                break
            out.append(":")
        elif ch.isspace():
            pass
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (fragment[j].isalnum() or fragment[j] in "_-"):
                j += 1
            word = fragment[i:j]
            rest = fragment[j:].lstrip()
            if rest.startswith(":") and stack and stack[-1] == "{":
                out.append(json.dumps(word))  # an unquoted key
            elif word in _PY_LITERALS:
                out.append(_PY_LITERALS[word])
            else:
                out.append(json.dumps(word))  # a bare word value: keep it as text for the validator
            i = j
            continue
        elif ch in "-+.0123456789":
            m = re.match(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", fragment[i:])
            if not m:
                break
            number = m.group(0).lstrip("+")
            if number.startswith("."):
                number = "0" + number
            if number.endswith("."):
                number += "0"
            if number.startswith("-."):
                number = "-0" + number[1:]
            out.append(number)
            i += len(m.group(0))
            continue
        else:
            break  # prose after or inside: stop reading here
        i += 1
    if not out or not stack:
        return None
    return _close_truncated(out, stack, safe_cuts)


def _read_string(s: str, i: int) -> tuple[str, int, bool]:
    quote, i, chars = s[i], i + 1, []
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"',
                       "'": "'"}
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", s[i + 2:i + 6] or ""):
                chars.append(chr(int(s[i + 2:i + 6], 16)))
                i += 6
                continue
            chars.append(escapes.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(chars), i + 1, True
        chars.append(ch)
        i += 1
    return "".join(chars), i, False


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _drop_trailing_comma(out: list[str]) -> None:
    if out and out[-1] == ",":
        out.pop()


def _close_truncated(out: list[str], stack: list[str], safe_cuts: list[tuple[int, list[str]]]) -> str | None:
    """Close what a truncated reply left open; if the tail is an incomplete member, cut back to one."""
    attempts = [(len(out), stack)] + list(reversed(safe_cuts))
    for length, open_stack in attempts:
        head = list(out[:length])
        _drop_trailing_comma(head)
        candidate = "".join(head) + "".join(_CLOSER[c] for c in reversed(open_stack))
        if _is_json(candidate):
            return candidate
    return None

