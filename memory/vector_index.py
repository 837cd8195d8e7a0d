"""Brute-force inner-product search over memory-node embeddings, ids = node ids.

Vectors are held as float16 (FAISS IndexIDMap2 over IndexScalarQuantizer QT_fp16): a search is bound by
reading every vector, so half the bytes is about half the time (10^5 nodes x 384 d, top-10, one core:
3.6 ms against 8.3 ms for float32, benchmarks/bench_faiss.py) with the same top-10 (recall@10 = 1.0 there);
scores differ from float32 by ~1e-3. It stays brute force, so filters by video and time are exact and
deletes are cheap, unlike a graph index.

The index lives beside the database as `nodes.faiss` plus a JSON sidecar (embedder id, dimension, count).
It is a cache of SQLite: when it is missing, corrupt, from another embedder or out of step, the memory
rebuilds it from the stored captions. Searches use a GPU copy when this faiss build sees a GPU.
"""
from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from vidrecall.core.sqlite_files import PRIVATE_FILE_MODE


# A filter allowing at least this share of the index is cheaper to apply after an unfiltered search than
# through an id selector, whose per-vector membership test then costs more than it saves.
BROAD_FILTER_SHARE = 0.2


class IndexFileError(ValueError):
    """An index file that cannot be used (missing, corrupt, not matching its sidecar); the memory rebuilds it."""


@dataclass(frozen=True)
class IndexMeta:
    embedder: str
    dim: int
    count: int
    source: str = ""


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(f"{path}.json")


class VectorIndex:
    def __init__(self, dim: int, embedder: str = "", use_gpu: bool | None = None,
                 search_threads: int | None = 1, source: str = "") -> None:
        """`search_threads`: CPU threads per search (None: faiss's default). One query gains little from
        more, and on a busy machine OpenMP threads waiting for each other make it several times slower.
        `source` names what the ids refer to (the memory store's id), so ids from elsewhere are not trusted."""
        self.dim = int(dim)
        self.embedder = embedder
        self.source = source
        self.search_threads = search_threads
        self._cpu = faiss.IndexIDMap2(_codes_index(self.dim))
        self._use_gpu = faiss.get_num_gpus() > 0 if use_gpu is None else use_gpu
        self._gpu = None  # GPU copy for searching, refreshed lazily after adds/removes

    # --- contents ------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self._cpu.ntotal)

    def ids(self) -> set[int]:
        return set(faiss.vector_to_array(self._cpu.id_map).tolist())

    def add(self, ids, vecs: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        vecs = _normalised(vecs, self.dim)
        if len(ids) != len(vecs):
            raise ValueError(f"{len(ids)} ids for {len(vecs)} vectors")
        if not len(ids):
            return
        present = self.ids() & set(ids.tolist())
        if present:  # re-adding replaces, so an id never appears twice
            self.remove(present)
        self._cpu.add_with_ids(vecs, ids)
        self._gpu = None

    def remove(self, ids) -> int:
        ids = np.asarray(sorted(ids), dtype=np.int64)
        if not len(ids):
            return 0
        self._gpu = None
        return int(self._cpu.remove_ids(faiss.IDSelectorBatch(ids)))

    # --- search ---------------------------------------------------------------------------------
    def search(self, vec: np.ndarray, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """The k nearest ids by inner product (cosine for normalised vectors), best first.

        `allowed` restricts the result to those ids; the search stays exact however selective it is.
        """
        if k <= 0 or self.ntotal == 0 or (allowed is not None and not allowed):
            return []
        with _omp_threads(self.search_threads):
            return self._search(vec, k, allowed)

    def _search(self, vec: np.ndarray, k: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        query = _normalised(np.asarray(vec, dtype=np.float32).reshape(1, -1), self.dim)
        if allowed is None:
            return self._search_all(query, min(k, self.ntotal))
        if self._use_gpu or len(allowed) >= BROAD_FILTER_SHARE * self.ntotal:
            return self._search_overfetch(query, k, allowed)
        selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
        k = min(k, len(allowed), self.ntotal)
        scores, ids = self._cpu.search(query, k, params=faiss.SearchParameters(sel=selector))
        return _pairs(scores[0], ids[0])

    def _search_all(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        scores, ids = self._searcher().search(query, k)
        return _pairs(scores[0], ids[0])

    def _search_overfetch(self, query: np.ndarray, k: int, allowed: set[int]) -> list[tuple[int, float]]:
        """Fetch more and more until k allowed ids are found or all are seen (GPU indexes take no selector).

        Exact: an allowed id scoring above the k-th allowed one found would itself be among those fetched.
        """
        fetch = min(self.ntotal, max(4 * k, 64, int(2 * k * self.ntotal / max(1, len(allowed)))))
        while True:
            found = [(i, s) for i, s in self._search_all(query, fetch) if i in allowed]
            if len(found) >= k or fetch >= self.ntotal:
                return found[:k]
            fetch = min(self.ntotal, fetch * 4)

    def _searcher(self):
        if not self._use_gpu:
            return self._cpu
        if self._gpu is None:  # GPU brute force runs on a float32 copy of the vectors
            ids = faiss.vector_to_array(self._cpu.id_map).astype(np.int64)
            flat = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            if len(ids):
                flat.add_with_ids(self._cpu.index.reconstruct_n(0, self.ntotal), ids)
            resources = faiss.StandardGpuResources()
            self._gpu = (resources, faiss.index_cpu_to_gpu(resources, 0, flat))
        return self._gpu[1]

    # --- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write index then sidecar, each atomically, so a crash leaves a pair that loads or is rejected."""
        path = Path(path)
        unique = f".{os.getpid()}.{threading.get_ident()}.tmp"  # two processes saving never share a temp file
        tmp = path.with_name(path.name + unique)
        faiss.write_index(self._cpu, str(tmp))
        os.chmod(tmp, PRIVATE_FILE_MODE)  # vectors of private captions: owner-only, like the databases
        os.replace(tmp, path)
        meta = sidecar_path(path)
        tmp_meta = meta.with_name(meta.name + unique)
        tmp_meta.write_text(json.dumps({"embedder": self.embedder, "dim": self.dim, "count": self.ntotal,
                                        "source": self.source}))
        os.chmod(tmp_meta, PRIVATE_FILE_MODE)
        os.replace(tmp_meta, meta)

    @classmethod
    def load(cls, path: str | os.PathLike, use_gpu: bool | None = None,
             search_threads: int | None = 1) -> "VectorIndex":
        path = Path(path)
        meta = read_meta(path)
        try:
            raw = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexFileError(f"{path}: unreadable FAISS index ({str(exc).splitlines()[0][:120]})") from None
        if not isinstance(raw, faiss.IndexIDMap2) or raw.d != meta.dim or raw.ntotal != meta.count:
            raise IndexFileError(f"{path}: index does not match its sidecar {sidecar_path(path).name}")
        inner = faiss.downcast_index(raw.index)
        if not (isinstance(inner, faiss.IndexScalarQuantizer) and inner.sq.qtype == faiss.ScalarQuantizer.QT_fp16):
            raise IndexFileError(f"{path}: an index of an older layout ({type(inner).__name__})")
        index = cls(meta.dim, meta.embedder, use_gpu=use_gpu, search_threads=search_threads, source=meta.source)
        index._cpu = raw
        return index


def read_meta(path: str | os.PathLike) -> IndexMeta:
    meta = sidecar_path(path)
    if not Path(path).exists() or not meta.exists():
        raise IndexFileError(f"{path}: no index file or no sidecar")
    try:
        data = json.loads(meta.read_text())
        return IndexMeta(str(data["embedder"]), int(data["dim"]), int(data["count"]), str(data.get("source", "")))
    except (ValueError, KeyError, TypeError):
        raise IndexFileError(f"{meta}: unreadable index sidecar") from None


@contextmanager
def _omp_threads(n: int | None):
    before = faiss.omp_get_max_threads()
    if n is None or n == before:
        yield
        return
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _codes_index(dim: int):
    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)


def _normalised(vecs: np.ndarray, dim: int) -> np.ndarray:
    vecs = np.ascontiguousarray(np.asarray(vecs, dtype=np.float32).reshape(-1, dim))
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0)


def _pairs(scores: np.ndarray, ids: np.ndarray) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for s, i in zip(scores, ids) if i >= 0]
