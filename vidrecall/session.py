"""Multi-turn chat over one video: turns persist in a LangGraph SQLite checkpointer keyed by session id,
so a session resumes (earlier questions and answers, the memory they gathered) after the process exits."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vidrecall.core import sqlite_files
from vidrecall.core.result import Answer, Progress, Step

if TYPE_CHECKING:
    from vidrecall.agent.state import Turn
    from vidrecall.api import VideoQA

SESSIONS_DB = "sessions.db"
DAMAGE_CONSEQUENCE = "earlier chat sessions cannot be resumed; new ones start fresh"


def open_checkpointer(store_dir: Path):
    """A SqliteSaver on <store>/sessions.db (one connection, shared by the sessions of one VideoQA).

    Its serializer stores the state's pydantic models (Verdict, Step, ZoomTarget) as (module, class, fields)
    and rebuilds them on load; they are its msgpack allowlist (agent.state.checkpoint_types), so a resumed
    session gets the same types back, with no "unregistered type" warning, and nothing else is imported."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    from vidrecall.agent.state import checkpoint_types

    path = Path(store_dir) / SESSIONS_DB
    # Private (0600), WAL, busy timeout, quick_check (DamagedDatabase): see vidrecall.core.sqlite_files.
    conn = sqlite_files.connect(path, consequence=DAMAGE_CONSEQUENCE, autocommit=False)
    saver = SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=checkpoint_types()))
    sqlite_files.retry_locked(saver.setup, path)
    return saver


def stored_session_ids(checkpointer) -> list[str]:
    """Every session id saved in the checkpointer's database, most recently used first."""
    rows = checkpointer.conn.execute(
        "SELECT thread_id, MAX(rowid) AS latest FROM checkpoints GROUP BY thread_id ORDER BY latest DESC").fetchall()
    return [str(thread) for thread, _ in rows]


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


class ChatSession:
    """`ask` / `stream` follow-up questions about one video; each turn sees the earlier ones."""

    def __init__(self, qa: "VideoQA", video: str | Path, session_id: str | None = None):
        self.qa = qa
        self.video = video
        self.session_id = session_id or new_session_id()

    def ask(self, question: str, options: list[str] | None = None) -> Answer:
        return self.qa.ask(self.video, question, options, session_id=self.session_id)

    def stream(self, question: str, options: list[str] | None = None) -> Iterator[Step | Progress | Answer]:
        return self.qa.stream(self.video, question, options, session_id=self.session_id)

    @property
    def history(self) -> list[Turn]:
        """Earlier turns of this session (question, options, answer, confidence: plain dicts), oldest first."""
        return self.qa.session_history(self.session_id)
