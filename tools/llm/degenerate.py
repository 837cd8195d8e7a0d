"""Spotting degenerate model text ("The answer is: The answer is: …", "1.1.1.1…"): small or random-weight
models loop, and a loop shown as the answer reads like a bug. Callers show a clean fallback instead."""
from __future__ import annotations

import re

_RUN = re.compile(r"(.{1,60}?)\1{2,}", re.S)  # a unit of up to 60 characters repeated 3+ times in a row
MIN_RUN_CHARS = 6
DEGENERATE_SHARE = 0.5
FALLBACK_ANSWER = "no clear answer (the model's reply only repeated itself)"


def is_degenerate(text: str) -> bool:
    """True when at least half of `text` is one short unit repeated back to back."""
    flat = " ".join((text or "").split())
    if len(flat) < MIN_RUN_CHARS:
        return False
    covered = sum(len(m.group(0)) for m in _RUN.finditer(flat)
                  if len(m.group(0)) >= MIN_RUN_CHARS and m.group(1).strip(" .,:;-"))
    return covered / len(flat) >= DEGENERATE_SHARE


def clean_answer(text: str) -> str:
    """`text`, or the fallback when it is degenerate."""
    return FALLBACK_ANSWER if is_degenerate(text) else text
