"""VideoMemory: what vidrecall remembers about videos -- their records, every caption and speech segment
(SQLite), and the embeddings that find them (FAISS). It implements the `Memory` interface (memory/protocol.py).

It does not caption: the indexer (vidrecall.indexing) samples, captions and hands it finished nodes. A node
already stored under its caption key is never made twice; new nodes are committed to SQLite at once and
embedded into the FAISS index; the index file is written when a build ends and on close, and any node it
misses (another process, a crash) is embedded on the next open or search.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from vidrecall.core.config import Config
from vidrecall.core.progress import ProgressEvent, ProgressSink, silent
from vidrecall.core.sqlite_files import narrow, private_dir
from vidrecall.core.types import MemoryNode, Span
from vidrecall.memory.embedder import Embedder, load_embedder
from vidrecall.memory.store import MemoryStore, MemoryStoreError, VideoRecord
from vidrecall.memory.vector_index import IndexFileError, VectorIndex, sidecar_path
from vidrecall.tools.video import VideoError, probe

log = logging.getLogger(__name__)

DB_NAME = "memory.db"
INDEX_NAME = "nodes.faiss"
# The errors that mean "this file is bad" (skip it, name it), as opposed to a broken model (stop).
BAD_FILE_ERRORS: tuple[type[BaseException], ...] = (VideoError, MemoryStoreError, OSError)
EMBED_BAR_MIN = 500  # re-embedding fewer captions than this on open is quick enough to do without a bar


class VideoMemory:
    """One store of videos: `register`, `videos`, `video`; nodes: `add`, `find`, `nodes`, `nodes_by_id`,
    `count`, `search`; leases on caption keys being made (`claim`, `release`, `renew`, `release_all`);
    progress marks (`mark`, `set_mark`); the timeline interface shared with libraries (`describe`, `cite`,
    `files`, `locate`, `on_timeline`)."""

    def __init__(self, config: Config, embedder: Embedder | None = None, store_dir: str | Path | None = None,
                 *, progress: ProgressSink = silent) -> None:
        self.config = config
        self.progress = progress  # hashing a big file, re-embedding a large store
        self.store_dir = Path(store_dir).expanduser() if store_dir else config.store_path
        private_dir(self.store_dir)  # 0700 when new: captions, prompts and questions live here
        for existing in (self.store_dir / INDEX_NAME, sidecar_path(self.store_dir / INDEX_NAME)):
            narrow(existing)  # written world-readable by an older version
        self.store = MemoryStore(self.store_dir / DB_NAME)
        self.embedder = embedder or load_embedder(config.embedder)
        self._index_lock = threading.RLock()
        self._index_dirty = False
        self._synced_to = -1  # the last node id known to be in the index
        self.index = self._open_index()
        self.sync_index(progress)

    @property
    def index_path(self) -> Path:
        return self.store_dir / INDEX_NAME

    # --- videos ---------------------------------------------------------------------------------
    def register(self, path: str | Path) -> VideoRecord:
        """Probe and hash a video file and remember it; the id is its content hash. VideoError on bad files."""
        info = probe(path)
        size = Path(path).stat().st_size
        rec = VideoRecord(id=self.store.video_id(path, self.progress), path=str(Path(path).resolve()), duration=info.duration,
                          fps=info.fps, width=info.width, height=info.height, frame_count=info.frame_count,
                          size_bytes=size, added_at=time.time())
        return self.store.upsert_video(rec)

    def videos(self) -> list[VideoRecord]:
        """Every video this store knows."""
        return self.store.videos()

    def video(self, video_id: str) -> VideoRecord | None:
        return self.store.video(video_id)

    def remove_video(self, video_id: str) -> int:
        """Forget a video and its nodes; how many nodes went."""
        removed = self.store.remove_video(video_id)
        self.sync_index()
        return removed

    # --- nodes ------------------------------------------------------------------------------------
    def find(self, key: str) -> MemoryNode | None:
        """The stored node with this caption key, if any."""
        return self.store.find(key)

    def add(self, nodes: list[MemoryNode]) -> list[MemoryNode]:
        """Store and embed finished nodes (captions, speech segments); ones already stored come back unchanged."""
        before = self.store.last_node_id()
        stored = [self.store.add(node) for node in nodes]
        fresh = [n for n in stored if n.id is not None and n.id > before]
        if fresh:
            newest = max(n.id for n in fresh if n.id is not None)
            with self._index_lock:
                self.index.add([n.id for n in fresh if n.id is not None], self.embedder.embed([n.text for n in fresh]))
                self._index_dirty = True
                if self._synced_to == before and self.store.last_node_id() == newest:  # nobody else added one
                    self._synced_to = newest
        return stored

    def vectors(self, node_ids: list[int]) -> np.ndarray:
        """The embeddings of stored nodes, one row per id (nodes the index misses are embedded first)."""
        with self._index_lock:
            if set(node_ids) - self.index.ids():
                self.sync_index(self.progress)
            return self.index.vectors(node_ids)

    def add_vectors(self, node_ids: list[int], vectors: np.ndarray) -> None:
        """Put embeddings made elsewhere by this memory's embedder (a bundle's) into the index as they are,
        for nodes already in the store; the index file is written on the next flush."""
        if not node_ids:
            return
        with self._index_lock:
            self.index.add(node_ids, vectors)
            self._index_dirty = True

    def nodes(self, video_id: str, level: str | list[str] | None = None,
              window: Span | None = None) -> list[MemoryNode]:
        """Stored nodes by start; the speech lane is left out when speech is off unless asked for by level."""
        return self.store.nodes(video_id, self._default_levels(level), window)

    def every_node(self, video_id: str) -> list[MemoryNode]:
        """Every stored node of a video, whatever its lane (speech too, even with speech off): for display."""
        return self.store.nodes(video_id)

    def _default_levels(self, levels: str | list[str] | None) -> str | list[str] | None:
        if levels is None and self.config.speech.source == "off":  # e.g. videolucy over a store with speech
            return [lv.name for lv in self.config.levels]
        return levels

    def nodes_by_id(self, node_ids: Iterable[int]) -> list[MemoryNode]:
        """The stored nodes with these ids, in the order given (duplicates and unknown ids left out)."""
        ids = list(dict.fromkeys(node_ids))
        found = self.store.get_many(ids)
        return [found[i] for i in ids if i in found]

    def count(self, video_id: str | None = None, level: str | list[str] | None = None) -> int:
        """How many nodes are stored (for one video, one level)."""
        return self.store.count(video_id, level)

    def search(self, text: str, video_id: str, *, levels: str | list[str] | None = None,
               window: Span | None = None, k: int = 10) -> list[tuple[MemoryNode, float]]:
        """Stored nodes of one video closest in meaning to `text`, best first, with cosine scores."""
        return self.search_among(text, self.node_ids(video_id, levels, window), k=k)

    def node_ids(self, video_id: str, levels: str | list[str] | None = None, window: Span | None = None) -> set[int]:
        return self.store.node_ids(video_id, self._default_levels(levels), window)

    def search_among(self, text: str, allowed: set[int], *, k: int = 10) -> list[tuple[MemoryNode, float]]:
        """Stored nodes among the ids `allowed` (several videos: a library) closest to `text`."""
        if not allowed or k <= 0:
            return []
        if self.store.last_node_id() != self._synced_to:  # another process (or a crash) added captions
            self.sync_index()
        query = self.embedder.embed([text])[0]
        with self._index_lock:
            hits = self.index.search(query, k, allowed)
        found = self.store.get_many(i for i, _ in hits)
        return [(found[i], score) for i, score in hits if i in found]

    @staticmethod
    def render(nodes: list[MemoryNode], duration: float, *, max_tokens: int | None = None,
               relevance: dict[int, float] | None = None):
        """The nodes as the text an LLM reads, with the spans its entries are numbered by (RenderedMemory)."""
        from vidrecall.memory.render import render_numbered

        return render_numbered(nodes, duration, max_tokens=max_tokens, relevance=relevance)

    # --- the timeline: one video is its own timeline ------------------------------------------------
    def describe(self, nodes: list[MemoryNode] | None = None) -> str:
        """What the LLM is told about the files behind the timeline: nothing, for one video."""
        return ""

    def cite(self, evidence: dict) -> dict:
        """An evidence span as the user reads it: for one video, as it is."""
        return evidence

    def files(self, video_id: str) -> list[tuple[VideoRecord, float]]:
        """(file, its offset on the timeline) for each file behind `video_id`."""
        record = self.store.video(video_id)
        return [(record, 0.0)] if record is not None else []

    def locate(self, video_id: str, span: Span) -> tuple[VideoRecord, Span, float]:
        """(file, span in that file's own seconds, the file's offset) for a timeline span."""
        record = self.store.video(video_id)
        if record is None:
            raise KeyError(f"no video {video_id} in {self.store.path}")
        return record, span, 0.0

    def on_timeline(self, node: MemoryNode) -> MemoryNode:
        return node

    # --- leases: who is making which caption right now --------------------------------------------------
    def claim(self, key: str, owner: str, seconds: float, *, take_over: Callable[[str], bool] | None = None) -> bool:
        return self.store.claim(key, owner, seconds, take_over=take_over)

    def release(self, key: str, owner: str) -> None:
        self.store.release(key, owner)

    def renew(self, owner: str, seconds: float) -> None:
        self.store.renew_claims(owner, seconds)

    def release_all(self, owner: str) -> None:
        self.store.release_all(owner)

    # --- progress marks (how far a resumable run got) ----------------------------------------------------
    def mark(self, name: str) -> str | None:
        return self.store.meta(name)

    def set_mark(self, name: str, value: str) -> None:
        self.store.set_meta(name, value)

    # --- the FAISS file -----------------------------------------------------------------------------
    def _open_index(self) -> VectorIndex:
        """The saved index when it was built for this store with this embedder; else an empty one to fill."""
        fresh = VectorIndex(self.embedder.dim, self.embedder.id, source=self.store.store_id)
        try:
            index = VectorIndex.load(self.index_path)
        except IndexFileError as exc:
            if self.index_path.exists():
                log.warning("%s; rebuilding it from %s", exc, DB_NAME)
            return fresh
        if index.source != fresh.source:
            log.warning("%s belongs to another memory store; rebuilding it from %s", self.index_path, DB_NAME)
            return fresh
        if index.embedder != self.embedder.id or index.dim != self.embedder.dim:
            log.warning("%s was built with embedder %r; rebuilding it for %r", self.index_path, index.embedder,
                        self.embedder.id)
            return fresh
        return index

    def sync_index(self, progress: ProgressSink = silent) -> None:
        """Make the index hold exactly the stored nodes: drop strays, embed what is missing, then save."""
        with self._index_lock:
            last = self.store.last_node_id()
            stored, indexed = self.store.node_ids(), self.index.ids()
            stray, missing = indexed - stored, stored - indexed
            if stray:
                self.index.remove(stray)
            if missing:
                done = 0
                for rows in self.store.texts(missing):
                    self.index.add([i for i, _ in rows], self.embedder.embed([t for _, t in rows]))
                    done += len(rows)
                    if len(missing) >= EMBED_BAR_MIN:
                        progress(ProgressEvent("embedding memory", done, len(missing), "caption"))
            self._index_dirty |= bool(stray or missing)
            self._synced_to = last
        self.flush()

    def flush(self) -> None:
        """Write the index file if it changed since it was last written."""
        with self._index_lock:
            if self._index_dirty:
                self.index.save(self.index_path)
                self._index_dirty = False

    def close(self) -> None:
        self.flush()
        self.store.close()

    def __enter__(self) -> "VideoMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
