"""The one-line form of an exception, as every error message of vidrecall shows it."""
from __future__ import annotations


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first line of `exc`'s message (cut to `limit` characters), or its class name when it has none."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit] if limit else line
