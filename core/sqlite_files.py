"""Opening the store's SQLite files (memory.db, llm_cache.db, sessions.db) the same safe way.

- Private: the folder is created 0700 and each database 0600 before SQLite touches it; SQLite gives its
  -wal and -shm files the database file's mode, so they are private too. The files hold prompts,
  questions and what was on screen.
- Shared by processes: WAL (readers never wait for the writer), a busy timeout on every connection, and
  write transactions that take the write lock up front (BEGIN IMMEDIATE) with a bounded retry, so two
  `vidrecall index` runs or an `ask` beside an `index` wait for each other instead of failing with
  "database is locked".
- Checked: `PRAGMA quick_check` on open turns a damaged file into one line naming the file and the fix,
  before any work, instead of a traceback half-way through.
"""
from __future__ import annotations

from vidrecall.core.errors import first_line

import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

BUSY_TIMEOUT_S = 30.0  # how long one statement waits for another process's lock
LOCK_ATTEMPTS = 4  # times a write transaction is tried before giving up (each waits up to BUSY_TIMEOUT_S)
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")
_DAMAGE_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

T = TypeVar("T")


class DamagedDatabase(RuntimeError):
    """A database file failed its integrity check or is not a database at all."""

    def __init__(self, path: Path, detail: str, consequence: str) -> None:
        self.path = path
        detail = " ".join(detail.split())  # one line, whatever SQLite said
        super().__init__(f"{path} is damaged ({detail}); move it away and run again — {consequence}")


class DatabaseBusy(RuntimeError):
    """Another process held the write lock longer than we wait."""


def private_dir(path: str | os.PathLike) -> Path:
    """Create the folder (owner-only) when missing. An existing folder keeps its mode: it may be the
    user's own; the files inside are private either way."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


def private_file(path: str | os.PathLike) -> Path:
    """Make sure `path` exists and is owner-only (0600), with the SQLite side files beside it.

    A missing file is created empty with mode 0600 (SQLite treats an empty file as a new database);
    an existing one of ours that others can read (made by an older version) is narrowed."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        narrow(candidate)
    return path


def narrow(path: Path) -> None:
    """chmod 0600 a file of ours that group or others can read; missing or foreign files are left alone."""
    try:
        st = path.stat()
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            os.chmod(path, PRIVATE_FILE_MODE)
    except (FileNotFoundError, PermissionError):
        pass


def is_damage(exc: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" and "file is not a database"."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and (code & 0xFF) in _DAMAGE_CODES


def is_locked(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def connect(path: str | os.PathLike, *, consequence: str, autocommit: bool = True) -> sqlite3.Connection:
    """A checked, private, WAL connection usable from any thread (callers serialise it with their own lock).

    `consequence` says what moving a damaged file away costs ("captions will be rebuilt").
    DamagedDatabase when the file fails its check; DatabaseBusy when another process never lets go."""
    path = Path(path)
    private_dir(path.parent)
    private_file(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                           isolation_level=None if autocommit else "DEFERRED")
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone(), path)
        check_integrity(conn, path, consequence)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_damage(exc):
            raise DamagedDatabase(path, first_line(exc, 160), consequence) from None
        raise
    except BaseException:
        conn.close()
        raise
    for suffix in SIDE_FILES:  # made by an older version before the file itself was narrowed
        narrow(path.with_name(path.name + suffix))
    return conn


def check_integrity(conn: sqlite3.Connection, path: Path, consequence: str) -> None:
    """`PRAGMA quick_check`: every page and b-tree readable and well formed (about a second per GB)."""
    rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
    if rows != ["ok"]:
        detail = " ".join(" ".join(rows).replace("*** in database main ***", "").split())
        raise DamagedDatabase(path, f"integrity check: {detail[:140]}", consequence)


def retry_locked(fn: Callable[[], T], path: str | os.PathLike, attempts: int = LOCK_ATTEMPTS) -> T:
    """Run `fn`, again after a short random pause when SQLite says the database is locked.

    Most waits happen inside SQLite (the busy timeout); what reaches here is a lock held past it, or a
    WAL snapshot conflict that SQLite reports at once instead of waiting."""
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            if attempt == attempts - 1:
                raise DatabaseBusy(f"{path}: still locked by another process after {attempts} tries of "
                                   f"{BUSY_TIMEOUT_S:.0f} s; run again when the other vidrecall finishes") from None
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


@contextmanager
def write_transaction(conn: sqlite3.Connection, path: str | os.PathLike) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT: the write lock is taken before the first read, so a transaction that
    reads and then writes cannot meet another writer's commit half-way (SQLITE_BUSY_SNAPSHOT)."""
    retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"), path)
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

