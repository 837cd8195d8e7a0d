"""The server's list of chat sessions: which video each is about, and every answer as it was shown.

The conversation itself (what follow-up questions see) lives in the LangGraph checkpointer
(`<store>/sessions.db`, written by VideoQA.stream with the session id); this book, beside it in
`<store>/web_sessions.db`, keeps what the page needs to reopen a session: the full Answers.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from pydantic import BaseModel

from vidrecall.core import sqlite_files
from vidrecall.core.result import Answer

BOOK_NAME = "web_sessions.db"


class SessionInfo(BaseModel):
    id: str
    video_id: str
    title: str
    turns: int
    created_at: float
    updated_at: float


class SessionBook:
    def __init__(self, store: Path):
        # Private (0600), WAL, busy timeout, quick_check: see vidrecall.core.sqlite_files.
        self._db = sqlite_files.connect(Path(store) / BOOK_NAME, consequence="the page's list of sessions starts empty")
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, video_id TEXT NOT NULL, "
                             "title TEXT NOT NULL, created_at REAL, updated_at REAL)")
            self._db.execute("CREATE TABLE IF NOT EXISTS turns (session_id TEXT NOT NULL, idx INTEGER NOT NULL, "
                             "answer TEXT NOT NULL, created_at REAL, PRIMARY KEY (session_id, idx))")

    def open(self, session_id: str, video_id: str, question: str) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO sessions VALUES (?, ?, ?, ?, ?)",
                             (session_id, video_id, question[:200], now, now))

    def video_of(self, session_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT video_id FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row[0] if row else None

    def add_turn(self, session_id: str, answer: Answer) -> None:
        now = time.time()
        with self._lock, self._db:
            idx = self._db.execute("SELECT count(*) FROM turns WHERE session_id = ?", (session_id,)).fetchone()[0]
            self._db.execute("INSERT INTO turns VALUES (?, ?, ?, ?)", (session_id, idx, answer.model_dump_json(), now))
            self._db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))

    def sessions(self, video_id: str | None = None) -> list[SessionInfo]:
        sql = ("SELECT s.id, s.video_id, s.title, (SELECT count(*) FROM turns t WHERE t.session_id = s.id), "
               "s.created_at, s.updated_at FROM sessions s")
        params: tuple = ()
        if video_id is not None:
            sql, params = sql + " WHERE s.video_id = ?", (video_id,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY s.updated_at DESC", params).fetchall()
        return [SessionInfo(id=r[0], video_id=r[1], title=r[2], turns=r[3], created_at=r[4], updated_at=r[5])
                for r in rows]

    def session(self, session_id: str) -> SessionInfo | None:
        return next((s for s in self.sessions() if s.id == session_id), None)

    def turns(self, session_id: str) -> list[Answer]:
        with self._lock:
            rows = self._db.execute("SELECT answer FROM turns WHERE session_id = ? ORDER BY idx", (session_id,)).fetchall()
        return [Answer.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
