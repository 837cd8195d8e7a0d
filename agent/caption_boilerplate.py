"""What the captioners write about every clip, which is therefore no evidence about any question.

The OCR captioner heads each caption "Frames 0:12-0:24 (4 sampled)." and says "No on-screen text." when
it read nothing; a clip without decodable frames reads "No frame could be decoded." Matching options
against these words finds "green" in "on-screen" and "screen" in every caption, so they are cut before
any vote or grounding check reads the text.
"""
from __future__ import annotations

import re

BOILERPLATE = (
    re.compile(r"Frames\s+[\d:.]+\s*-\s*[\d:.]+\s*\(\d+ sampled\)\.?", re.I),
    re.compile(r"No on-screen text\.?", re.I),
    re.compile(r"On-screen text:\s*none\.?", re.I),
    re.compile(r"No frame could be decoded\.?", re.I),
)


def strip_boilerplate(text: str) -> str:
    """`text` without the captioners' fixed phrases, whitespace collapsed ("" when nothing else was said)."""
    for pattern in BOILERPLATE:
        text = pattern.sub(" ", text or "")
    return " ".join(text.split())
