"""The SQLite side of the memory: videos (by content hash) and caption nodes (by caption key).

One file `<store>/memory.db` holds many videos. Writes commit at once (autocommit + WAL), so a killed
process loses at most the caption it was computing, and other processes can read while one writes.
SQLite is the source of truth; the FAISS index beside it is a cache rebuilt from these rows.

Paths are stored as text. A file name that is not valid UTF-8 (Python holds its bytes as lone surrogates)
cannot go into SQLite, JSON or a web page, so such a file is refused with one line showing the name
escaped (`bad\\xff\\xfename.mp4`): every VideoRecord.path the store writes or returns is a str that
encodes as UTF-8 (strictly) and opens the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import sqlite_utils

from vidrecall.core import sqlite_files
from vidrecall.core.progress import ProgressEvent, ProgressSink, silent
from vidrecall.core.sqlite_files import DamagedDatabase, DatabaseBusy, DatabaseNotWritable, write_transaction
from vidrecall.core.types import TIME_EPS, MemoryNode, Span

HASH_CHUNK = 4 << 20  # bytes read at a time while hashing a video
SAMPLE_BYTES = 64 << 10  # bytes read at the start, middle and end of a file for its identity
PROGRESS_ABOVE_BYTES = 512 << 20
SCHEMA_VERSION = 1
DAMAGE_CONSEQUENCE = "its captions will be rebuilt from the videos (the videos are not touched)"


class MemoryStoreError(RuntimeError):
    """The memory store cannot do what was asked (unreadable database, unknown node); one line with the fix."""


# The disk holding the store is full, or the store is read-only: raised by every write (and on open), one
# line naming the file. Deliberately not a MemoryStoreError (that one marks a bad *video* to skip).
StoreNotWritable = DatabaseNotWritable


def safe_text(text: str) -> str:
    """`text` as a str that encodes as UTF-8: bytes of a non-UTF-8 file name (held by Python as lone
    surrogates) written as \\xNN, any other lone surrogate as \\udNNN. Unchanged when already clean."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no file name produced (e.g. from JSON "\\ud800")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_path_text(path: str | os.PathLike) -> str:
    """A path as text that any encoder (SQLite, JSON, a terminal) takes; see `safe_text`."""
    raw = os.fspath(path)
    return raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else safe_text(raw)


def unstorable_name(path: str | os.PathLike) -> str | None:
    """Why the store cannot keep `path` (its name is not valid UTF-8), as one line naming it escaped; else None."""
    raw = os.fspath(path)
    text = raw if isinstance(raw, str) else os.fsdecode(raw)
    if safe_text(text) == text:
        return None
    return (f"{safe_text(text)}: the file name is not valid UTF-8 (the bytes shown as \\xNN); "
            "rename the file to index it")


def video_id_for(path: str | os.PathLike, progress: ProgressSink = silent) -> str:
    """sha256 of the file's bytes, streamed: a renamed or copied file is the same video.

    `progress` hears about files big enough to take a while (hour-long videos are gigabytes)."""
    digest = hashlib.sha256()
    try:
        size = os.path.getsize(path)
        task, done = f"hashing {Path(path).name}", 0
        with open(path, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                if size >= PROGRESS_ABOVE_BYTES:
                    progress(ProgressEvent(task, done, size, "B"))
    except OSError as exc:
        raise MemoryStoreError(f"{path}: cannot read the video to hash it ({exc.strerror or exc})") from None
    return digest.hexdigest()


@dataclass
class VideoRecord:
    id: str
    path: str
    duration: float
    fps: float
    width: int
    height: int
    frame_count: int
    size_bytes: int
    added_at: float


_NODE_COLUMNS = [f.name for f in fields(MemoryNode)]


def _file_identity(path: Path) -> str:
    """What must stay the same for a remembered hash to still be the file's hash: where the file is, its
    size and mtime, and a sample of its bytes (start, middle, end), so a file overwritten in place with the
    same size and its old mtime put back is hashed again. Three 64 KiB reads, however big the file."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        sample = hashlib.sha256()
        for offset in sorted({0, max(0, st.st_size // 2 - SAMPLE_BYTES // 2), max(0, st.st_size - SAMPLE_BYTES)}):
            fh.seek(offset)
            sample.update(fh.read(SAMPLE_BYTES))
    return (f"{path.resolve()}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|"
            f"{sample.hexdigest()[:32]}")


def _check_storable(path: Path) -> None:
    """MemoryStoreError (one line, the name escaped) for a path SQLite cannot store as text."""
    problem = unstorable_name(path)
    if problem is None:
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):
            return
        if unstorable_name(resolved) is not None:  # a link whose target's name is not UTF-8
            problem = f"{safe_path_text(path)}: links to {unstorable_name(resolved)}"
    if problem is not None:
        raise MemoryStoreError(problem)


class _Database(sqlite_utils.Database):
    """sqlite_utils whose outermost `atomic()` is a write transaction that takes the lock up front
    (BEGIN IMMEDIATE, bounded retry): processes sharing the store wait for each other, never fail."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        super().__init__(conn)
        self.path = path

    @contextmanager
    def atomic(self):
        if self.conn.in_transaction:  # nested: a savepoint, as sqlite_utils does
            with super().atomic():
                yield self
            return
        with write_transaction(self.conn, self.path):
            yield self


class MemoryStore:
    def __init__(self, db_path: str | os.PathLike) -> None:
        self.path = Path(db_path)
        # Private (0600), WAL, busy timeout, quick_check: see vidrecall.core.sqlite_files.
        # Autocommit connection shared by threads; the lock serialises its use inside this process.
        try:
            conn = sqlite_files.connect(self.path, consequence=DAMAGE_CONSEQUENCE)
            self.db = _Database(conn, self.path)
            self._lock = threading.RLock()
            self._create_schema()
        except (DamagedDatabase, DatabaseBusy) as exc:
            raise MemoryStoreError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            if sqlite_files.is_damage(exc):
                raise MemoryStoreError(str(DamagedDatabase(self.path, str(exc), DAMAGE_CONSEQUENCE))) from None
            if (unwritable := sqlite_files.not_writable(exc, self.path)) is not None:
                raise unwritable from None  # read-only or full: nothing to move away
            raise MemoryStoreError(f"{self.path}: not a usable memory database ({exc}); "
                               "move it away or choose another --store") from None

    # --- schema -------------------------------------------------------------------------------
    def _create_schema(self) -> None:
        with self.db.atomic():
            self.db.table("videos").create({
                "id": str, "path": str, "duration": float, "fps": float, "width": int, "height": int,
                "frame_count": int, "size_bytes": int, "added_at": float,
            }, pk="id", if_not_exists=True)
            self.db.table("nodes").create({
                "id": int, "key": str, "video_id": str, "level": str, "depth": int, "start": float, "end": float,
                "parent_id": int, "fps": float, "frames": int, "max_pixels": int, "captioner": str,
                "prompt_hash": str, "instruction": str, "text": str, "created_at": float,
            }, pk="id", not_null={"key", "video_id", "level", "text"}, if_not_exists=True)
            for column in ("speaker", "words"):  # speech columns, added to stores made before them
                if column not in self.db.table("nodes").columns_dict:
                    self.db.table("nodes").add_column(column, str)
            self.db.table("file_hashes").create({"identity": str, "video_id": str, "hashed_at": float},
                                                pk="identity", if_not_exists=True)
            self.db.table("meta").create({"name": str, "value": str}, pk="name", if_not_exists=True)
            self.db.table("meta").insert({"name": "store_id", "value": uuid.uuid4().hex}, ignore=True)
            nodes = self.db.table("nodes")
            nodes.create_index(["key"], unique=True, if_not_exists=True)
            nodes.create_index(["video_id", "level", "start"], if_not_exists=True)
            nodes.create_index(["parent_id"], if_not_exists=True)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._extend_schema()

    def _extend_schema(self) -> None:
        """Columns and tables added after version 1: created when missing, so older stores open as they are."""
        with self.db.atomic():
            have = {c.name for c in self.db.table("nodes").columns}
            if "sampling" not in have:
                self.db.execute("ALTER TABLE nodes ADD COLUMN sampling TEXT NOT NULL DEFAULT ''")
            if "frame_times" not in have:
                self.db.execute("ALTER TABLE nodes ADD COLUMN frame_times TEXT")
            self.db.execute("CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                            "expires_at REAL NOT NULL)")

    @property
    def store_id(self) -> str:
        """A random id made with the database: tells an index built for this store from another one's."""
        with self._lock:
            return self._row("SELECT value FROM meta WHERE name = 'store_id'", [])["value"]

    def meta(self, name: str) -> str | None:
        """A small named value kept with the memory (e.g. how far a video's transcription got)."""
        with self._lock:
            row = self._one("SELECT value FROM meta WHERE name = ?", [name])
        return row["value"] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self._lock, self.db.atomic():
            self.db.table("meta").insert({"name": name, "value": value}, replace=True)

    # --- videos -------------------------------------------------------------------------------
    def video_id(self, path: str | os.PathLike, progress: ProgressSink = silent) -> str:
        """`video_id_for(path)`, remembered per (path, inode, size, mtime, sampled bytes) so big files hash once.

        MemoryStoreError for a file that cannot be read or whose name is not valid UTF-8 (see the module)."""
        path = Path(path)
        _check_storable(path)
        try:
            identity = _file_identity(path)
        except OSError as exc:
            raise MemoryStoreError(f"{path}: cannot read the video ({exc.strerror or exc})") from None
        with self._lock:
            row = self._one("SELECT video_id FROM file_hashes WHERE identity = ?", [identity])
        if row:
            return row["video_id"]
        vid = video_id_for(path, progress)
        with self._lock, self.db.atomic():
            self.db.table("file_hashes").insert(
                {"identity": identity, "video_id": vid, "hashed_at": time.time()}, replace=True)
        return vid

    def upsert_video(self, rec: VideoRecord) -> VideoRecord:
        """Insert or refresh a video; keeps the first `added_at`, records the latest path."""
        if (problem := unstorable_name(rec.path)) is not None:
            raise MemoryStoreError(problem)
        with self._lock, self.db.atomic():
            old = self.video(rec.id)
            if old is not None:
                rec = VideoRecord(**{**asdict(rec), "added_at": old.added_at})
            self.db.table("videos").insert(asdict(rec), replace=True)
        return rec

    def video(self, video_id: str) -> VideoRecord | None:
        with self._lock:
            row = self._one("SELECT * FROM videos WHERE id = ?", [video_id])
        return VideoRecord(**row) if row else None

    def videos(self) -> list[VideoRecord]:
        with self._lock:
            return [VideoRecord(**r) for r in self.db.query("SELECT * FROM videos ORDER BY added_at")]

    def remove_video(self, video_id: str) -> int:
        """Forget a video and every caption of it; returns how many captions went. The FAISS index drops
        them on its next sync (VideoMemory.sync_index)."""
        with self._lock, self.db.atomic():
            gone = self._row("SELECT count(*) AS n FROM nodes WHERE video_id = ?", [video_id])["n"]
            self.db.execute("DELETE FROM nodes WHERE video_id = ?", [video_id])
            self.db.execute("DELETE FROM file_hashes WHERE video_id = ?", [video_id])
            self.db.execute("DELETE FROM videos WHERE id = ?", [video_id])
        return gone

    # --- nodes --------------------------------------------------------------------------------
    def find(self, key: str) -> MemoryNode | None:
        with self._lock:
            row = self._one("SELECT * FROM nodes WHERE key = ?", [key])
        return _node(row) if row else None

    def add(self, node: MemoryNode) -> MemoryNode:
        """Store `node` and return it with its id; a node with the same caption key is returned unchanged."""
        row = {c: getattr(node, c) for c in _NODE_COLUMNS if c != "id"}
        row["key"] = node.key
        with self._lock, self.db.atomic():
            self.db.table("nodes").insert(row, ignore=True)
            stored = self._row("SELECT * FROM nodes WHERE key = ?", [row["key"]])  # inserted, or already there
        return _node(stored)

    def get(self, node_id: int) -> MemoryNode:
        with self._lock:
            row = self._one("SELECT * FROM nodes WHERE id = ?", [int(node_id)])
        if row is None:
            raise MemoryStoreError(f"no memory node with id {node_id} in {self.path}")
        return _node(row)

    def get_many(self, node_ids: Iterable[int]) -> dict[int, MemoryNode]:
        ids = [int(i) for i in node_ids]
        out: dict[int, MemoryNode] = {}
        with self._lock:
            for chunk in _chunks(ids, 500):
                rows = self.db.query(f"SELECT * FROM nodes WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                out.update((r["id"], _node(r)) for r in rows)
        return out

    def nodes(self, video_id: str, level: str | Iterable[str] | None = None,
              window: Span | None = None) -> list[MemoryNode]:
        """Nodes of a video, optionally of some levels and overlapping a time window; by start, then depth."""
        where, params = _node_filter(video_id, level, window)
        with self._lock:
            rows = list(self.db.query(f"SELECT * FROM nodes WHERE {where} ORDER BY start, depth, id", params))
        return [_node(r) for r in rows]

    def keyed_nodes(self, video_id: str) -> list[tuple[str, MemoryNode]]:
        """(stored caption key, node) for every node of a video, parents before children (by depth, then start):
        what a memory bundle carries."""
        with self._lock:
            rows = list(self.db.query("SELECT * FROM nodes WHERE video_id = ? ORDER BY depth, start, id", [video_id]))
        return [(r["key"], _node(r)) for r in rows]

    def meta_items(self, prefix: str) -> dict[str, str]:
        """The named values (progress marks) whose names start with `prefix`."""
        with self._lock:
            rows = self.db.query("SELECT name, value FROM meta WHERE substr(name, 1, ?) = ? ORDER BY name",
                                 [len(prefix), prefix])
            return {r["name"]: r["value"] for r in rows}

    def node_ids(self, video_id: str | None = None, level: str | Iterable[str] | None = None,
                 window: Span | None = None) -> set[int]:
        where, params = _node_filter(video_id, level, window)
        with self._lock:
            return {r["id"] for r in self.db.query(f"SELECT id FROM nodes WHERE {where}", params)}

    def children(self, node_id: int) -> list[MemoryNode]:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM nodes WHERE parent_id = ? ORDER BY start, id", [int(node_id)]))
        return [_node(r) for r in rows]

    def last_node_id(self) -> int:
        """The highest node id (0 when empty): grows whenever any process adds a node. O(log n)."""
        with self._lock:
            return self._row("SELECT coalesce(max(id), 0) AS top FROM nodes", [])["top"]

    def count(self, video_id: str | None = None, level: str | Iterable[str] | None = None) -> int:
        where, params = _node_filter(video_id, level, None)
        with self._lock:
            return self._row(f"SELECT count(*) AS n FROM nodes WHERE {where}", params)["n"]

    def texts(self, node_ids: Iterable[int] | None = None, batch: int = 256) -> Iterator[list[tuple[int, str]]]:
        """(id, text) pairs in batches, for (re)embedding; all nodes when `node_ids` is None."""
        if node_ids is None:
            with self._lock:
                ids = [r["id"] for r in self.db.query("SELECT id FROM nodes ORDER BY id")]
        else:
            ids = sorted(int(i) for i in node_ids)
        for chunk in _chunks(ids, batch):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = list(self.db.query(f"SELECT id, text FROM nodes WHERE id IN ({marks}) ORDER BY id", chunk))
            yield [(r["id"], r["text"]) for r in rows]

    # --- claims: a lease on a caption key while one process computes it ----------------------------
    def claim(self, key: str, owner: str, ttl: float, *, take_over: Callable[[str], bool] | None = None) -> bool:
        """Lease `key` to `owner` for `ttl` seconds; True when the lease is now `owner`'s.

        Atomic across processes: a free key is taken by INSERT OR IGNORE, an expired lease (or one whose
        holder `take_over(holder)` says is dead) by an UPDATE conditioned on the holder seen."""
        now = time.time()
        with self._lock, self._writes():
            cur = self.db.execute("INSERT OR IGNORE INTO claims (key, owner, expires_at) VALUES (?, ?, ?)",
                                  [key, owner, now + ttl])
            if cur.rowcount == 1:
                return True
            row = self._one("SELECT owner, expires_at FROM claims WHERE key = ?", [key])
            if row is None:  # released between the two statements: try once more
                cur = self.db.execute("INSERT OR IGNORE INTO claims (key, owner, expires_at) VALUES (?, ?, ?)",
                                      [key, owner, now + ttl])
                return cur.rowcount == 1
            if row["owner"] != owner and row["expires_at"] > now and not (take_over and take_over(row["owner"])):
                return False
            cur = self.db.execute("UPDATE claims SET owner = ?, expires_at = ? WHERE key = ? AND owner = ? "
                                  "AND expires_at = ?", [owner, now + ttl, key, row["owner"], row["expires_at"]])
            return cur.rowcount == 1

    def renew_claims(self, owner: str, ttl: float) -> None:
        """Push back the expiry of every lease `owner` holds (its heartbeat)."""
        with self._lock, self._writes():
            self.db.execute("UPDATE claims SET expires_at = ? WHERE owner = ?", [time.time() + ttl, owner])

    def release(self, key: str, owner: str) -> None:
        with self._lock, self._writes():
            self.db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", [key, owner])

    def release_all(self, owner: str) -> None:
        with self._lock, self._writes():
            self.db.execute("DELETE FROM claims WHERE owner = ?", [owner])

    def claim_holder(self, key: str) -> str | None:
        """Who holds a live lease on `key` (None when nobody does)."""
        with self._lock:
            row = self._one("SELECT owner FROM claims WHERE key = ? AND expires_at > ?", [key, time.time()])
        return row["owner"] if row else None

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def _writes(self) -> Iterator[None]:
        """Around a write outside `db.atomic()` (an autocommit statement): a read-only store or a full disk
        is StoreNotWritable, as inside a transaction."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if (unwritable := sqlite_files.not_writable(exc, self.path)) is not None:
                raise unwritable from None
            raise

    def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return next(iter(self.db.query(sql, params)), None)

    def _row(self, sql: str, params: list[Any]) -> dict[str, Any]:
        """The row a query always yields: an aggregate's, or one the schema or the caller guarantees is there."""
        row = self._one(sql, params)
        assert row is not None, f"no row for {sql!r}"
        return row


def _node(row: dict[str, Any]) -> MemoryNode:
    values = {c: row[c] for c in _NODE_COLUMNS}
    if isinstance(values["frame_times"], str):
        values["frame_times"] = json.loads(values["frame_times"])
    values["sampling"] = values["sampling"] or ""
    return MemoryNode(**values)


def _node_filter(video_id: str | None, level: str | Iterable[str] | None,
                 window: Span | None) -> tuple[str, list[Any]]:
    clauses: list[str] = ["1"]
    params: list[Any] = []
    if video_id is not None:
        clauses.append("video_id = ?")
        params.append(video_id)
    if level is not None:
        levels = [level] if isinstance(level, str) else list(level)
        clauses.append(f"level IN ({','.join('?' * len(levels))})")
        params.extend(levels)
    if window is not None:  # overlaps the window by more than float noise
        clauses.append("start < ? AND \"end\" > ?")
        params.extend([window.end - TIME_EPS, window.start + TIME_EPS])
    return " AND ".join(clauses), params


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
