"""The SQLite side of the memory: videos (by content hash) and caption nodes (by caption key).

One file `<store>/memory.db` holds many videos. Writes commit at once (autocommit + WAL), so a killed
process loses at most the caption it was computing, and other processes can read while one writes.
SQLite is the source of truth; the FAISS index beside it is a cache rebuilt from these rows.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import sqlite_utils
from tqdm.auto import tqdm

from vidrecall.core.types import TIME_EPS, MemoryNode, Span

HASH_CHUNK = 4 << 20  # bytes read at a time while hashing a video
PROGRESS_ABOVE_BYTES = 512 << 20
SCHEMA_VERSION = 1


class MemoryError_(RuntimeError):
    """The memory store cannot do what was asked (unreadable database, unknown node); one line with the fix."""


def video_id_for(path: str | os.PathLike, progress: bool = False) -> str:
    """sha256 of the file's bytes, streamed: a renamed or copied file is the same video.

    `progress` shows a bar for files big enough to take a while (hour-long videos are gigabytes)."""
    digest = hashlib.sha256()
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh, tqdm(total=size, unit="B", unit_scale=True, desc=f"hashing {Path(path).name}",
                                          disable=not progress or size < PROGRESS_ABOVE_BYTES) as bar:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
                bar.update(len(chunk))
    except OSError as exc:
        raise MemoryError_(f"{path}: cannot read the video to hash it ({exc.strerror or exc})") from None
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
    """What must stay the same for a remembered hash to still be the file's hash."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"


class MemoryStore:
    def __init__(self, db_path: str | os.PathLike) -> None:
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit connection shared by threads; the lock serialises its use inside this process.
        try:
            conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False, isolation_level=None)
            self.db = sqlite_utils.Database(conn)
            self.db.enable_wal()
            self._lock = threading.RLock()
            self._create_schema()
        except sqlite3.DatabaseError as exc:
            raise MemoryError_(f"{self.path}: not a usable memory database ({exc}); "
                               "move it away or choose another --store") from None

    # --- schema -------------------------------------------------------------------------------
    def _create_schema(self) -> None:
        with self.db.atomic():
            self.db["videos"].create({
                "id": str, "path": str, "duration": float, "fps": float, "width": int, "height": int,
                "frame_count": int, "size_bytes": int, "added_at": float,
            }, pk="id", if_not_exists=True)
            self.db["nodes"].create({
                "id": int, "key": str, "video_id": str, "level": str, "depth": int, "start": float, "end": float,
                "parent_id": int, "fps": float, "frames": int, "max_pixels": int, "captioner": str,
                "prompt_hash": str, "instruction": str, "text": str, "created_at": float,
            }, pk="id", not_null={"key", "video_id", "level", "text"}, if_not_exists=True)
            self.db["file_hashes"].create({"identity": str, "video_id": str, "hashed_at": float},
                                          pk="identity", if_not_exists=True)
            self.db["meta"].create({"name": str, "value": str}, pk="name", if_not_exists=True)
            self.db["meta"].insert({"name": "store_id", "value": uuid.uuid4().hex}, ignore=True)
            nodes = self.db["nodes"]
            nodes.create_index(["key"], unique=True, if_not_exists=True)
            nodes.create_index(["video_id", "level", "start"], if_not_exists=True)
            nodes.create_index(["parent_id"], if_not_exists=True)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def store_id(self) -> str:
        """A random id made with the database: tells an index built for this store from another one's."""
        with self._lock:
            return self._one("SELECT value FROM meta WHERE name = 'store_id'", [])["value"]

    # --- videos -------------------------------------------------------------------------------
    def video_id(self, path: str | os.PathLike) -> str:
        """`video_id_for(path)`, remembered per (path, inode, size, mtime) so big files hash once."""
        path = Path(path)
        try:
            identity = _file_identity(path)
        except OSError as exc:
            raise MemoryError_(f"{path}: cannot read the video ({exc.strerror or exc})") from None
        with self._lock:
            row = self._one("SELECT video_id FROM file_hashes WHERE identity = ?", [identity])
        if row:
            return row["video_id"]
        vid = video_id_for(path, progress=True)
        with self._lock, self.db.atomic():
            self.db["file_hashes"].insert({"identity": identity, "video_id": vid, "hashed_at": time.time()},
                                          replace=True)
        return vid

    def upsert_video(self, rec: VideoRecord) -> VideoRecord:
        """Insert or refresh a video; keeps the first `added_at`, records the latest path."""
        with self._lock, self.db.atomic():
            old = self.video(rec.id)
            if old is not None:
                rec = VideoRecord(**{**asdict(rec), "added_at": old.added_at})
            self.db["videos"].insert(asdict(rec), replace=True)
        return rec

    def video(self, video_id: str) -> VideoRecord | None:
        with self._lock:
            row = self._one("SELECT * FROM videos WHERE id = ?", [video_id])
        return VideoRecord(**row) if row else None

    def videos(self) -> list[VideoRecord]:
        with self._lock:
            return [VideoRecord(**r) for r in self.db.query("SELECT * FROM videos ORDER BY added_at")]

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
            self.db["nodes"].insert(row, ignore=True)
            stored = self._one("SELECT * FROM nodes WHERE key = ?", [row["key"]])
        return _node(stored)

    def get(self, node_id: int) -> MemoryNode:
        with self._lock:
            row = self._one("SELECT * FROM nodes WHERE id = ?", [int(node_id)])
        if row is None:
            raise MemoryError_(f"no memory node with id {node_id} in {self.path}")
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
            return self._one("SELECT coalesce(max(id), 0) AS top FROM nodes", [])["top"]

    def count(self, video_id: str | None = None, level: str | Iterable[str] | None = None) -> int:
        where, params = _node_filter(video_id, level, None)
        with self._lock:
            return self._one(f"SELECT count(*) AS n FROM nodes WHERE {where}", params)["n"]

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

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return next(iter(self.db.query(sql, params)), None)


def _node(row: dict[str, Any]) -> MemoryNode:
    return MemoryNode(**{c: row[c] for c in _NODE_COLUMNS})


def _node_filter(video_id: str | None, level: str | Iterable[str] | None,
                 window: Span | None) -> tuple[str, list[Any]]:
    clauses, params = ["1"], []
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
