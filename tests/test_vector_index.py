"""The FAISS index over node ids: exact search, selective filters, persistence and bad files."""
from __future__ import annotations

import os

import numpy as np
import pytest

from vidrecall.memory.vector_index import IndexFileError, VectorIndex, sidecar_path

DIM = 32


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def brute_force(vecs: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int, allowed=None) -> list[int]:
    keep = np.array([allowed is None or int(i) in allowed for i in ids])
    scores = vecs[keep] @ query
    return [int(i) for i in ids[keep][np.argsort(-scores)[:k]]]


@pytest.fixture
def filled():
    vecs = unit_vectors(5000)
    ids = np.arange(5000, dtype=np.int64) * 7 + 3  # node ids are not positions
    index = VectorIndex(DIM, "test-embedder")
    index.add(ids, vecs)
    return index, vecs, ids


def test_search_is_exact_and_best_first(filled):
    index, vecs, ids = filled
    query = unit_vectors(1, seed=1)[0]
    hits = index.search(query, 10)
    assert [i for i, _ in hits] == brute_force(vecs, ids, query, 10)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert index.search(vecs[123], 1)[0][0] == ids[123]  # a stored vector finds itself
    assert index.ntotal == 5000 and index.ids() == set(ids.tolist())


def test_selective_filter_still_returns_the_best_allowed(filled):
    index, vecs, ids = filled
    query = unit_vectors(1, seed=2)[0]
    allowed = {int(ids[17]), int(ids[2500]), int(ids[4999])}  # 3 of 5000
    hits = index.search(query, 10, allowed)
    assert [i for i, _ in hits] == brute_force(vecs, ids, query, 10, allowed)
    assert len(hits) == 3
    half = set(ids[::2].tolist())
    assert [i for i, _ in index.search(query, 10, half)] == brute_force(vecs, ids, query, 10, half)
    assert index.search(query, 10, set()) == []
    assert index.search(query, 10, {999_999_999}) == []


def test_overfetch_filter_used_with_gpu_indexes_is_exact(filled):
    index, vecs, ids = filled
    index._use_gpu = True  # drive the GPU branch; searching itself stays on the CPU index here
    index._searcher = lambda: index._cpu
    query = unit_vectors(1, seed=3)[0]
    allowed = {int(i) for i in ids[4990:]}
    assert [i for i, _ in index.search(query, 5, allowed)] == brute_force(vecs, ids, query, 5, allowed)


def test_readding_an_id_replaces_it_and_remove_drops_it(filled):
    index, vecs, ids = filled
    index.add([ids[0]], -vecs[0:1])
    assert index.ntotal == 5000
    assert index.search(-vecs[0], 1)[0][0] == ids[0]
    assert index.remove([ids[0], ids[1]]) == 2
    assert ids[0] not in index.ids() and index.ntotal == 4998


def test_vectors_are_normalised_on_add_and_search():
    index = VectorIndex(DIM)
    vec = unit_vectors(1)[0]
    index.add([5], 10 * vec[None, :])
    (hit, score), = index.search(3 * vec, 1)
    assert hit == 5 and score == pytest.approx(1.0, abs=2e-3)  # float16 storage


def test_save_load_round_trip(filled, tmp_path):
    index, vecs, ids = filled
    index.source = "store-123"
    path = tmp_path / "nodes.faiss"
    index.save(path)
    loaded = VectorIndex.load(path)
    assert (loaded.embedder, loaded.dim, loaded.source) == ("test-embedder", DIM, "store-123")
    assert loaded.ids() == index.ids()
    assert loaded.search(vecs[42], 3) == index.search(vecs[42], 3)


def test_missing_corrupt_or_mismatched_files_are_rejected(filled, tmp_path):
    index, _, _ = filled
    path = tmp_path / "nodes.faiss"
    with pytest.raises(IndexFileError, match="no index file"):
        VectorIndex.load(path)
    index.save(path)
    sidecar_path(path).write_text('{"embedder": "test-embedder", "dim": 32, "count": 7}')
    with pytest.raises(IndexFileError, match="does not match its sidecar"):
        VectorIndex.load(path)
    sidecar_path(path).write_text("{not json")
    with pytest.raises(IndexFileError, match="unreadable index sidecar"):
        VectorIndex.load(path)
    index.save(path)
    path.write_bytes(b"garbage" * 50)
    with pytest.raises(IndexFileError, match="unreadable FAISS index"):
        VectorIndex.load(path)


def test_mismatched_ids_and_vectors_are_refused():
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        VectorIndex(DIM).add([1, 2], unit_vectors(1))


def test_an_index_of_the_older_float32_layout_is_refused_so_the_memory_rebuilds_it(tmp_path):
    import faiss

    path = tmp_path / "nodes.faiss"
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    old.add_with_ids(unit_vectors(10), np.arange(10, dtype=np.int64))
    faiss.write_index(old, str(path))
    sidecar_path(path).write_text('{"embedder": "test-embedder", "dim": 32, "count": 10}')
    with pytest.raises(IndexFileError, match="older layout"):
        VectorIndex.load(path)


def test_temp_files_of_a_killed_save_are_removed_by_the_next_save(filled, tmp_path):
    import subprocess
    import sys

    from vidrecall.memory.owners import HOST

    index, _vecs, _ids = filled
    path = tmp_path / "nodes.faiss"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    left = [tmp_path / f"nodes.faiss.{HOST}~{dead_pid}~1.tmp", tmp_path / f"nodes.faiss.json.{HOST}~{dead_pid}~1.tmp",
            tmp_path / f"nodes.faiss.ivf.{HOST}~{dead_pid}~1.tmp"]
    alive = [tmp_path / f"nodes.faiss.{HOST}~{os.getpid()}~7.tmp",  # a save still running in a live process
             tmp_path / f"nodes.faiss.other-host~{dead_pid}~1.tmp",  # another machine's pid means nothing here
             tmp_path / "notes.tmp"]
    for f in left + alive:
        f.write_bytes(b"partial")
    index.save(path)
    assert [f.exists() for f in left] == [False, False, False]
    assert [f.exists() for f in alive] == [True, True, True]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".tmp")) == ["nodes.faiss", "nodes.faiss.json"]
