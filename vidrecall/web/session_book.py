"""The server's list of chat sessions: which video each is about, and every answer as it was shown.

The conversation itself (what follow-up questions see) lives in the LangGraph checkpointer
(`<store>/sessions.db`, written by VideoQA.stream with the session id); this book, beside it in
`<store>/web_sessions.db`, keeps what the page needs to reopen a session: the full Answers.

A question still being answered is a `LiveQuestion` held here in memory: every event it has sent so far, and
the streams that follow it. A page reloaded mid-question finds it in the session's view and follows it again
(GET /api/sessions/{id}/live replays the events so far, then streams the rest). The turn is written and the
question leaves the running list under one lock, so a reader sees it either running or answered, never neither.
"""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

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
    running: int = Field(default=0, description="questions of this session being answered now")


class RunningQuestion(BaseModel):
    """A question being answered now: what the page shows above its live steps."""
    id: str
    session_id: str
    video_id: str
    question: str
    options: list[str] = Field(default_factory=list)
    started_at: float


Event = tuple[str, str]  # (server-sent event name, its JSON data)


class LiveQuestion:
    """The events of one question being answered, kept for whoever follows it (the page that asked, or the same
    page reloaded). A run of progress events is kept as its latest one, so the list stays short."""

    def __init__(self, info: RunningQuestion):
        self.info = info
        self._events: list[Event] = []
        self._followers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._lock = threading.Lock()
        self.finished = False

    def emit(self, name: str, data: str) -> None:
        """Record an event and pass it to every follower (from any thread)."""
        with self._lock:
            if self.finished:
                return
            if name == "progress" and self._events and self._events[-1][0] == "progress":
                self._events[-1] = (name, data)
            else:
                self._events.append((name, data))
            followers = list(self._followers)
        for loop, queue in followers:
            _put(loop, queue, (name, data))

    def end(self) -> None:
        """No more events: each follower gets None after the last one."""
        with self._lock:
            self.finished = True
            followers, self._followers = self._followers, []
        for loop, queue in followers:
            _put(loop, queue, None)

    def follow(self) -> asyncio.Queue:
        """A queue (of the running event loop) holding every event so far, then each new one, then None."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        with self._lock:
            for item in self._events:
                queue.put_nowait(item)
            if self.finished:
                queue.put_nowait(None)
            else:
                self._followers.append((asyncio.get_running_loop(), queue))
        return queue

    def unfollow(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._followers = [(lp, q) for lp, q in self._followers if q is not queue]


def _put(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, item: Event | None) -> None:
    try:
        loop.call_soon_threadsafe(queue.put_nowait, item)
    except RuntimeError:  # that loop is closed (the server is stopping); the work itself still completes
        pass


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
        self._running: dict[str, LiveQuestion] = {}  # by question id; in memory: a restart ends them all

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
        with self._lock:
            self._add_turn(session_id, answer)

    def _add_turn(self, session_id: str, answer: Answer) -> None:
        now = time.time()
        with self._db:
            idx = self._db.execute("SELECT count(*) FROM turns WHERE session_id = ?", (session_id,)).fetchone()[0]
            self._db.execute("INSERT INTO turns VALUES (?, ?, ?, ?)", (session_id, idx, answer.model_dump_json(), now))
            self._db.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (now, session_id))

    # --- questions being answered now ---------------------------------------------------------------
    def start(self, session_id: str, video_id: str, question: str, options: list[str]) -> LiveQuestion:
        """Open the session (if new) and register a question being answered in it."""
        self.open(session_id, video_id, question)
        live = LiveQuestion(RunningQuestion(id=uuid.uuid4().hex[:12], session_id=session_id, video_id=video_id,
                                            question=question, options=list(options), started_at=time.time()))
        with self._lock:
            self._running[live.info.id] = live
        return live

    def answered(self, live: LiveQuestion, answer: Answer) -> None:
        """Store the answer as the session's next turn; at the same moment the question stops running."""
        with self._lock:
            self._add_turn(live.info.session_id, answer)
            self._running.pop(live.info.id, None)

    def finish(self, live: LiveQuestion) -> None:
        """The question's work ended (answered or failed): it leaves the running list, its followers stop."""
        with self._lock:
            self._running.pop(live.info.id, None)
        live.end()

    def running(self, session_id: str) -> list[LiveQuestion]:
        """Questions of `session_id` being answered now, oldest first."""
        with self._lock:
            return self._running_in(session_id)

    def _running_in(self, session_id: str) -> list[LiveQuestion]:
        return sorted((q for q in self._running.values() if q.info.session_id == session_id),
                      key=lambda q: q.info.started_at)

    def view(self, session_id: str) -> tuple[SessionInfo | None, list[Answer], list[RunningQuestion]]:
        """The session, its answers and its questions being answered, read at one moment."""
        with self._lock:
            info = next((s for s in self._sessions(None) if s.id == session_id), None)
            turns = self._turns(session_id)
            running = [q.info for q in self._running_in(session_id)]
        return info, turns, running

    def sessions(self, video_id: str | None = None) -> list[SessionInfo]:
        with self._lock:
            return self._sessions(video_id)

    def _sessions(self, video_id: str | None) -> list[SessionInfo]:
        sql = ("SELECT s.id, s.video_id, s.title, (SELECT count(*) FROM turns t WHERE t.session_id = s.id), "
               "s.created_at, s.updated_at FROM sessions s")
        params: tuple = ()
        if video_id is not None:
            sql, params = sql + " WHERE s.video_id = ?", (video_id,)
        rows = self._db.execute(sql + " ORDER BY s.updated_at DESC", params).fetchall()
        return [SessionInfo(id=r[0], video_id=r[1], title=r[2], turns=r[3], created_at=r[4], updated_at=r[5],
                            running=len(self._running_in(r[0]))) for r in rows]

    def session(self, session_id: str) -> SessionInfo | None:
        return next((s for s in self.sessions() if s.id == session_id), None)

    def turns(self, session_id: str) -> list[Answer]:
        with self._lock:
            return self._turns(session_id)

    def _turns(self, session_id: str) -> list[Answer]:
        rows = self._db.execute("SELECT answer FROM turns WHERE session_id = ? ORDER BY idx", (session_id,)).fetchall()
        return [Answer.model_validate_json(r[0]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
