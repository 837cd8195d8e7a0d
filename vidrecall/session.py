"""Multi-turn chat over one video: turns persist in a LangGraph SQLite checkpointer keyed by session id,
so a session resumes (earlier questions and answers, the memory they gathered) after the process exits."""
from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vidrecall.core.result import Answer, Step

if TYPE_CHECKING:
    from vidrecall.api import VideoQA

SESSIONS_DB = "sessions.db"


def open_checkpointer(store_dir: Path):
    """A SqliteSaver on <store>/sessions.db (one connection, shared by the sessions of one VideoQA)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    store_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(store_dir / SESSIONS_DB), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


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

    def stream(self, question: str, options: list[str] | None = None) -> Iterator[Step | Answer]:
        return self.qa.stream(self.video, question, options, session_id=self.session_id)

    @property
    def history(self) -> list[dict]:
        """Earlier turns of this session (question, options, answer, confidence), oldest first."""
        return self.qa.session_history(self.session_id)
