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
from typing import cast

import faiss
import numpy as np

from vidrecall.memory.ann_index import ANN_ABOVE, IvfCopy

from vidrecall.core.sqlite_files import PRIVATE_FILE_MODE
from vidrecall.memory.owners import HOST, holder_is_dead
from vidrecall.core.errors import first_line


# A filter allowing at least this share of the index is cheaper to apply after an unfiltered search than
# through an id selector, whose per-vector membership test then costs more than it saves.
BROAD_FILTER_SHARE = 0.2
# Over a big index (IVF copy present), a filter allowing at most this many ids is searched exactly by
# decoding just those vectors (one video of a 100-video library: ~10^4), not through the IVF lists.
EXACT_FILTER_MAX = 50_000


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
        # GPU copy for searching (with the resources it lives on), refreshed lazily after adds/removes
        self._gpu: tuple[faiss.StandardGpuResources, faiss.GpuIndex] | None = None
        self._ann: IvfCopy | None = None  # IVF copy for big indexes (memory/ann_index.py), built lazily
        self.ann_above = ANN_ABOVE
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # ids sorted + positions, for in-place reads

    # --- contents ------------------------------------------------------------------------------
    @property
    def ntotal(self) -> int:
        return int(self._cpu.ntotal)

    def ids(self) -> set[int]:
        return set(faiss.vector_to_array(self._cpu.id_map).tolist())

    def vectors(self, ids) -> np.ndarray:
        """The stored vectors of `ids` (float32, normalised; float16 precision), one row per id in order.
        KeyError naming the first id the index does not hold."""
        ids = [int(i) for i in ids]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        if not ids:
            return out
        sorted_ids, order = self._positions()
        at = np.searchsorted(sorted_ids, np.asarray(ids, dtype=np.int64))
        for row, (i, pos) in enumerate(zip(ids, at)):
            if pos >= len(sorted_ids) or sorted_ids[pos] != i:
                raise KeyError(f"id {i} is not in the vector index")
            out[row] = self._cpu.index.reconstruct(int(order[pos]))
        return out

    def add(self, ids, vecs: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        vecs = _normalised(vecs, self.dim)
        if len(ids) != len(vecs):
            raise ValueError(f"{len(ids)} ids for {len(vecs)} vectors")
        if not len(ids):
            return
        present = ids[np.isin(ids, faiss.vector_to_array(self._cpu.id_map))] if self.ntotal else ids[:0]
        if len(present):  # re-adding replaces, so an id never appears twice
            self.remove(present.tolist())
        self._cpu.add_with_ids(vecs, ids)
        self._sorted = None
        if self._ann is not None:
            self._ann.add(ids, vecs)
        self._gpu = None

    def remove(self, ids) -> int:
        ids = np.asarray(sorted(ids), dtype=np.int64)
        if not len(ids):
            return 0
        self._gpu = None
        self._sorted = None
        if self._ann is not None:
            self._ann.remove(ids)
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
        if not self._use_gpu and self.ntotal >= self.ann_above:
            return self._search_big(query, k, allowed)
        if allowed is None:
            return self._search_all(query, min(k, self.ntotal))
        if self._use_gpu or len(allowed) >= BROAD_FILTER_SHARE * self.ntotal:
            return self._search_overfetch(query, k, allowed)
        selector = faiss.IDSelectorBatch(np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
        k = min(k, len(allowed), self.ntotal)
        params = faiss.SearchParameters()
        params.sel = selector
        scores, ids = self._cpu.search(query, k, params=params)
        return _pairs(scores[0], ids[0])

    def _search_big(self, query: np.ndarray, k: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        """IVF candidates re-scored exactly; a selective filter is searched exactly over its own vectors."""
        if allowed is not None and len(allowed) <= EXACT_FILTER_MAX:
            return self._rescored(query, np.fromiter(allowed, dtype=np.int64, count=len(allowed)), k)
        ann = self.ann()
        if allowed is None:
            return self._rescored(query, ann.candidates(query, k), k)
        # A broad filter: the IVF lists searched through a bitmap of the allowed ids (a hash set of 10^5+
        # ids per query costs more than the search), twice as many lists, since the allowed neighbours of a
        # query are rarer than its neighbours.
        wanted = np.fromiter(allowed, dtype=np.int64, count=len(allowed))
        wanted = wanted[(wanted >= 0) & (wanted <= self._max_id())]
        if not len(wanted):
            return []
        member = np.zeros(self._max_id() + 1, dtype=bool)
        member[wanted] = True
        bits = np.packbits(member, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(member), faiss.swig_ptr(bits))
        found = ann.candidates(query, k, nprobe=min(ann.nlist, 2 * ann.nprobe), selector=selector)
        return self._rescored(query, found, k)

    def _max_id(self) -> int:
        sorted_ids, _ = self._positions()
        return int(sorted_ids[-1]) if len(sorted_ids) else -1

    def _rescored(self, query: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k best of `ids` by exact inner product with the stored float16 vectors (absent ids skipped).

        Reads the float16 codes in place (no copy of the index): ids -> positions by binary search."""
        sorted_ids, order = self._positions()
        at = np.searchsorted(sorted_ids, ids)
        at[at >= len(sorted_ids)] = 0
        found = sorted_ids[at] == ids
        ids, rows = ids[found], order[at[found]]
        if not len(ids):
            return []
        by_row = np.argsort(rows)  # read the codes in storage order
        ids, rows = ids[by_row], rows[by_row]
        inner = self._flat_codes()
        codes = faiss.rev_swig_ptr(inner.codes.data(), inner.codes.size()).reshape(self.ntotal, -1)
        # faiss decodes float16 in C++; einsum, unlike `@`, starts no BLAS threads (on a busy machine those
        # made this 10x slower)
        scores = np.einsum("ij,j->i", inner.sa_decode(codes[rows]), query[0])
        top = np.argsort(-scores)[:k] if len(scores) <= 4 * k else np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids sorted, their positions in the flat index), cached until the index changes."""
        if self._sorted is None or len(self._sorted[0]) != self.ntotal:
            id_map = faiss.vector_to_array(self._cpu.id_map)
            order = np.argsort(id_map, kind="stable")
            self._sorted = (id_map[order], order)
        return self._sorted

    def _float16_codes(self) -> np.ndarray:
        """The flat index's vectors as a float16 (n, dim) view of its code bytes (QT_fp16 codes are float16)."""
        inner = self._flat_codes()
        raw = faiss.rev_swig_ptr(inner.codes.data(), inner.codes.size())
        return raw.view(np.float16).reshape(self.ntotal, self.dim)

    def _flat_codes(self) -> faiss.IndexScalarQuantizer:
        """The flat float16 index inside the id map (made by _codes_index, checked by load)."""
        # downcast_index returns the concrete class; faiss's stub types it as the base Index
        return cast(faiss.IndexScalarQuantizer, faiss.downcast_index(self._cpu.index))

    def ann(self) -> IvfCopy:
        """The IVF copy, built (trained on a sample, then filled) the first time a big index needs it."""
        if self._ann is None or self._ann.ntotal != self.ntotal:
            self._ann = IvfCopy.build(self._float16_codes(), faiss.vector_to_array(self._cpu.id_map))
        return self._ann

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

    def _searcher(self) -> faiss.Index:
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
        remove_dead_temp_files(path)
        # Two processes (or threads) saving never share a temp file; the name says whose it is.
        unique = f".{temp_owner()}.tmp"
        tmp = path.with_name(path.name + unique)
        faiss.write_index(self._cpu, str(tmp))
        os.chmod(tmp, PRIVATE_FILE_MODE)  # vectors of private captions: owner-only, like the databases
        os.replace(tmp, path)
        if self._ann is not None and self._ann.ntotal == self.ntotal:  # the IVF copy too: retraining is slow
            tmp_ann = path.with_name(path.name + ".ivf" + unique)
            faiss.write_index(self._ann.index, str(tmp_ann))
            os.chmod(tmp_ann, PRIVATE_FILE_MODE)
            os.replace(tmp_ann, ann_path(path))
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
            raise IndexFileError(f"{path}: unreadable FAISS index ({first_line(exc, 120)})") from None
        if not isinstance(raw, faiss.IndexIDMap2) or raw.d != meta.dim or raw.ntotal != meta.count:
            raise IndexFileError(f"{path}: index does not match its sidecar {sidecar_path(path).name}")
        inner = faiss.downcast_index(raw.index)
        if not (isinstance(inner, faiss.IndexScalarQuantizer) and inner.sq.qtype == faiss.ScalarQuantizer.QT_fp16):
            raise IndexFileError(f"{path}: an index of an older layout ({type(inner).__name__})")
        index = cls(meta.dim, meta.embedder, use_gpu=use_gpu, search_threads=search_threads, source=meta.source)
        index._cpu = raw
        index._sorted = None
        index._ann = _load_ann(path, raw.ntotal)
        return index


def ann_path(path: str | os.PathLike) -> Path:
    return Path(f"{path}.ivf")


def _load_ann(path: Path, count: int) -> IvfCopy | None:
    """The saved IVF copy when it is readable and holds as many vectors as the index; else None (rebuilt
    lazily by the first search that needs it)."""
    try:
        raw = faiss.read_index(str(ann_path(path)))  # (read_index returns the concrete class, owning its memory)
    except RuntimeError:
        return None
    if not isinstance(raw, faiss.IndexIVFScalarQuantizer) or raw.ntotal != count:
        return None
    return IvfCopy(raw)


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


def temp_owner() -> str:
    """host:pid:thread of a temp file written now (':' kept out of file names: host~pid~thread)."""
    return f"{HOST}~{os.getpid()}~{threading.get_ident()}"


def remove_dead_temp_files(path: Path) -> list[Path]:
    """Delete temp files a killed save left beside `path` (index, IVF copy, sidecar): those whose writer ran
    on this machine and is gone. A live writer's, or another machine's, are left alone."""
    removed = []
    prefixes = sorted([path.name + ".", ann_path(path).name + ".", sidecar_path(path).name + "."], key=len,
                      reverse=True)
    for candidate in path.parent.glob(path.name + ".*.tmp"):
        prefix = next((p for p in prefixes if candidate.name.startswith(p)), None)
        parts = candidate.name[len(prefix):-len(".tmp")].rsplit("~", 2) if prefix else []
        if len(parts) == 3 and parts[1].isdigit() and holder_is_dead(f"{parts[0]}:{parts[1]}"):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed
