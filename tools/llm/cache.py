"""A persistent LLM response cache in SQLite, plugged into LangChain as `model.cache`.

Keyed by a hash of (model + parameters as LangChain's `llm_string`, the serialised messages), so the
same question asked the same way never costs a second call. LangChain marks nothing on a cache hit,
so the cache counts its own hits per thread: `hits_in_this_thread()` before and after a call tells
the caller whether that call was served from here.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation

CACHE_FILENAME = "llm_cache.db"


def response_key(prompt: str, llm_string: str) -> str:
    return hashlib.sha256(f"{llm_string}\x00{prompt}".encode()).hexdigest()


def _encode(generations: Sequence[Generation]) -> str:
    """Plain JSON (messages as dicts): nothing read back from the file can instantiate arbitrary classes."""
    items = []
    for gen in generations:
        item: dict[str, Any] = {"text": gen.text, "generation_info": gen.generation_info}
        if isinstance(gen, ChatGeneration):
            item["message"] = message_to_dict(gen.message)
        items.append(item)
    return json.dumps(items, ensure_ascii=False, default=str)


def _decode(blob: str) -> list[Generation]:
    out: list[Generation] = []
    for item in json.loads(blob):
        if "message" in item:
            out.append(ChatGeneration(message=messages_from_dict([item["message"]])[0],
                                      generation_info=item.get("generation_info")))
        else:
            out.append(Generation(text=item["text"], generation_info=item.get("generation_info")))
    return out


class SQLiteResponseCache(BaseCache):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            self.path = self.path / CACHE_FILENAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock, self._conn:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, generations TEXT NOT NULL,"
                               " created_at REAL NOT NULL)")

    def __repr__(self) -> str:
        return f"SQLiteResponseCache({str(self.path)!r})"

    def hits_in_this_thread(self) -> int:
        return getattr(self._local, "hits", 0)

    def lookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        with self._lock:
            row = self._conn.execute("SELECT generations FROM responses WHERE key = ?",
                                     (response_key(prompt, llm_string),)).fetchone()
        if row is None:
            return None
        try:
            generations = _decode(row[0])
        except (ValueError, KeyError, TypeError):  # written by an incompatible version: treat as a miss
            return None
        self._local.hits = self.hits_in_this_thread() + 1
        return generations

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        blob = _encode(return_val)
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO responses (key, generations, created_at) VALUES (?, ?, ?)",
                               (response_key(prompt, llm_string), blob, time.time()))

    def clear(self, **kwargs: Any) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM responses")

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
