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
- Told apart: a read-only store and a full disk are not damage. They raise `DatabaseNotWritable` (one line
  naming the file: give a writable --store / free space), never "move it away", which would throw away a
  healthy store.
"""
from __future__ import annotations

from vidrecall.core.errors import first_line

import errno
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
# SQLite codes that may mean "cannot write here": checked against the file system before being called so
_MAYBE_READ_ONLY_CODES = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_AUTH}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
LOW_SPACE_BYTES = 1 << 20  # an I/O error with less free space than this left is a full disk

T = TypeVar("T")


class DamagedDatabase(RuntimeError):
    """A database file failed its integrity check or is not a database at all."""

    def __init__(self, path: Path, detail: str, consequence: str) -> None:
        self.path = path
        detail = " ".join(detail.split())  # one line, whatever SQLite said
        super().__init__(f"{path} is damaged ({detail}); move it away and run again — {consequence}")


class DatabaseBusy(RuntimeError):
    """Another process held the write lock longer than we wait."""


class DatabaseNotWritable(RuntimeError):
    """The database cannot be written: its file system is read-only / it lacks permissions, or the disk is
    full. Nothing is damaged, so the fix is never "move it away"; one line naming the file.

    Not an OSError nor a sqlite3 error on purpose: callers that skip a bad *video* on those must not skip
    file after file here; the run stops with this line."""

    def __init__(self, path: str | os.PathLike, full: bool, detail: str = "") -> None:
        self.path = Path(path)
        self.full = full
        if full:
            message = (f"{self.path}: no space left on the device holding {self.path.parent}; free space and run "
                       "again (everything stored before is kept)")
        else:
            message = f"{self.path} is read-only: give a writable --store or fix the permissions"
        super().__init__(f"{message} ({detail})" if detail else message)


def not_writable(exc: BaseException, path: str | os.PathLike) -> DatabaseNotWritable | None:
    """`exc` (a sqlite3 or OS error met on `path`) as DatabaseNotWritable when it means read-only or full."""
    path = Path(path)
    if isinstance(exc, DatabaseNotWritable):
        return exc
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        if exc.errno in _FULL_ERRNOS:
            return DatabaseNotWritable(path, True)
        if exc.errno in _READ_ONLY_ERRNOS:
            return DatabaseNotWritable(path, False, exc.strerror or "")
        return None
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == sqlite3.SQLITE_FULL:
        return DatabaseNotWritable(path, True)
    if primary == sqlite3.SQLITE_READONLY:
        return DatabaseNotWritable(path, False, read_only_reason(path) or "SQLite: attempt to write a readonly database")
    if primary in _MAYBE_READ_ONLY_CODES:  # "unable to open database file", "disk I/O error": look why
        reason = read_only_reason(path)
        if reason:
            return DatabaseNotWritable(path, False, reason)
        if primary == sqlite3.SQLITE_IOERR and free_bytes(path) < LOW_SPACE_BYTES:
            return DatabaseNotWritable(path, True)
    return None


def read_only_reason(path: str | os.PathLike) -> str:
    """Why `path` (a database) cannot be written, or "" when it looks writable."""
    path = Path(path)
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "its file system is mounted read-only"
    except OSError:
        pass
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return f"no write permission on the folder {folder}"
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return f"no write permission on {candidate.name}"
    return ""


def free_bytes(path: str | os.PathLike) -> int:
    """Bytes an unprivileged writer may still use on the device holding `path`'s folder (large when unknown)."""
    try:
        st = os.statvfs(Path(path).parent)
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


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
    except OSError:  # gone, someone else's, or on a read-only file system: left as it is
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
    DamagedDatabase when the file fails its check; DatabaseBusy when another process never lets go;
    DatabaseNotWritable when the file or its folder is read-only or the disk is full."""
    path = Path(path)
    try:
        private_dir(path.parent)
        private_file(path)
    except OSError as exc:
        if (translated := not_writable(exc, path)) is not None:
            raise translated from None
        raise
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
        if (translated := not_writable(exc, path)) is not None:
            raise translated from None
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
    WAL snapshot conflict that SQLite reports at once instead of waiting. A read-only file or a full disk
    is DatabaseNotWritable (not damage, not worth a retry)."""
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                if (translated := not_writable(exc, path)) is not None:
                    raise translated from None
                raise
            if attempt == attempts - 1:
                raise DatabaseBusy(f"{path}: still locked by another process after {attempts} tries of "
                                   f"{BUSY_TIMEOUT_S:.0f} s; run again when the other vidrecall finishes") from None
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


@contextmanager
def write_transaction(conn: sqlite3.Connection, path: str | os.PathLike) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT: the write lock is taken before the first read, so a transaction that
    reads and then writes cannot meet another writer's commit half-way (SQLITE_BUSY_SNAPSHOT).
    A write refused because the file is read-only or the disk is full is DatabaseNotWritable."""
    retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"), path)
    try:
        yield conn
    except BaseException as exc:
        _roll_back(conn)
        if isinstance(exc, sqlite3.OperationalError) and (translated := not_writable(exc, path)) is not None:
            raise translated from None
        raise
    try:
        conn.execute("COMMIT")
    except BaseException as exc:
        _roll_back(conn)
        if isinstance(exc, sqlite3.OperationalError) and (translated := not_writable(exc, path)) is not None:
            raise translated from None
        raise


def _roll_back(conn: sqlite3.Connection) -> None:
    """ROLLBACK when a transaction is open; a rollback that fails too (a full disk) must not hide the cause."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

