"""Prompt templates, one Markdown/Jinja file per agent role or caption level.

Nothing else in vidrecall builds prompt text. Text read off the video (captions, OCR) enters a prompt
only through `quote_data`, which fences it as data so that it can never act as an instruction.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2

PROMPTS_DIR = Path(__file__).parent


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PROMPTS_DIR)), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["data"] = quote_data
    return env


def render(name: str, **values: object) -> str:
    """Render prompts/<name>.md with `values`; missing values raise instead of rendering blanks."""
    return _env().get_template(f"{name}.md").render(**values).strip()


def source(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.md").read_text()


def available() -> list[str]:
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.md"))


def quote_data(text: object) -> str:
    """Fence untrusted text (OCR, captions, user files) so a prompt treats it as quoted data only."""
    body = str(text).replace("<<<", "‹‹‹").replace(">>>", "›››")
    return f"<<<DATA\n{body}\nDATA>>>"
