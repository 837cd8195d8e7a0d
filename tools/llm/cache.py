"""A persistent LLM response cache in SQLite, plugged into LangChain as `model.cache`.

Keyed by a hash of (model + parameters as LangChain's `llm_string`, the serialised messages), so the
same question asked the same way never costs a second call. LangChain marks nothing on a cache hit,
so the cache counts its own hits per thread: `hits_in_this_thread()` before and after a call tells
the caller whether that call was served from here.

Only replies the caller found good are kept: LangChain's `update` holds a reply as pending, and the
caller (tools/llm/structured.py) either `keep`s it once it parsed, or `forget`s it (an empty or
unparseable reply, which also removes a bad reply stored earlier). A pending reply nobody keeps (a call
abandoned at the time budget, a direct `model.invoke`) is never written, so a failure is never
served again from here.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.caches import BaseCache
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation

from vidrecall.core import sqlite_files
from vidrecall.core.sqlite_files import DamagedDatabase

log = logging.getLogger(__name__)

CACHE_FILENAME = "llm_cache.db"
DAMAGE_CONSEQUENCE = "cached model replies will be asked for again"


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
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pending: dict[str, str] = {}  # key -> encoded reply, waiting for keep() or forget()
        # Private (0600), WAL, busy timeout, quick_check (DamagedDatabase): see vidrecall.core.sqlite_files.
        self._conn = sqlite_files.connect(self.path, consequence=DAMAGE_CONSEQUENCE, autocommit=False)
        self._write("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, generations TEXT NOT NULL,"
                    " created_at REAL NOT NULL)")

    def __repr__(self) -> str:
        return f"SQLiteResponseCache({str(self.path)!r})"

    def hits_in_this_thread(self) -> int:
        return getattr(self._local, "hits", 0)

    def last_key_in_this_thread(self) -> str | None:
        """The key of the last lookup or update made in this thread (the reply a call got)."""
        return getattr(self._local, "last_key", None)

    def forget_last_key_in_this_thread(self) -> None:
        self._local.last_key = None

    def lookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        key = response_key(prompt, llm_string)
        self._local.last_key = key
        with self._lock:
            row = self._conn.execute("SELECT generations FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            generations = _decode(row[0])
        except (ValueError, KeyError, TypeError):  # written by an incompatible version: treat as a miss
            return None
        self._local.hits = self.hits_in_this_thread() + 1
        return generations

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        """Hold a fresh reply until the caller says whether it was good (`keep` / `forget`)."""
        key = response_key(prompt, llm_string)
        self._local.last_key = key
        blob = _encode(return_val)
        with self._lock:
            self._pending[key] = blob

    def keep(self, key: str | None) -> None:
        """Write the pending reply under `key` (a reply served from the file is already kept)."""
        with self._lock:
            blob = self._pending.pop(key, None) if key else None
            if blob is not None:
                self._write("INSERT OR REPLACE INTO responses (key, generations, created_at) VALUES (?, ?, ?)",
                            (key, blob, time.time()))

    def forget(self, key: str | None) -> None:
        """Drop the reply under `key`, pending or stored: it was empty or did not parse."""
        if not key:
            return
        with self._lock:
            self._pending.pop(key, None)
            self._write("DELETE FROM responses WHERE key = ?", (key,))

    def clear(self, **kwargs: Any) -> None:
        with self._lock:
            self._pending.clear()
            self._write("DELETE FROM responses")

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _write(self, sql: str, params: tuple = ()) -> None:
        """One statement in its own transaction, waiting (bounded) while another process writes."""
        def attempt() -> None:
            with self._conn:
                self._conn.execute(sql, params)

        sqlite_files.retry_locked(attempt, self.path)


def open_response_cache(path: str | Path) -> SQLiteResponseCache | None:
    """The cache at `path`, or None with a warning when its file is damaged: answers still come, uncached."""
    try:
        return SQLiteResponseCache(path)
    except DamagedDatabase as exc:
        log.warning("warning: %s; running without the response cache until then", exc)
        return None
