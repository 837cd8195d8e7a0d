"""The memory index above its size threshold: an IVF copy proposes, exact float16 scores decide; filters,
removal and persistence keep working (memory/ann_index.py, memory/vector_index.py)."""
from __future__ import annotations

import numpy as np

from vidrecall.memory.vector_index import VectorIndex, ann_path

DIM = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, DIM)).astype(np.float32)
    vecs = centres[rng.integers(0, 50, n)] + 0.3 * rng.standard_normal((n, DIM)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def exact(vecs, ids, query, k, keep=None):
    mask = np.ones(len(ids), bool) if keep is None else np.isin(ids, list(keep))
    order = np.argsort(-(vecs[mask] @ query))[:k]
    return [int(i) for i in ids[mask][order]]


def test_big_index_searches_through_an_ivf_copy_with_exact_rescoring(tmp_path):
    vecs = clustered(6000)
    ids = np.arange(6000, dtype=np.int64) * 5 + 2
    index = VectorIndex(DIM, "e", use_gpu=False)
    index.ann_above = 4000  # as if this were 10^6 nodes
    index.add(ids, vecs)
    queries = clustered(30, seed=1)
    recall = np.mean([len({i for i, _ in index.search(q, 10)} & set(exact(vecs, ids, q, 10))) / 10 for q in queries])
    assert index._ann is not None and index._ann.ntotal == 6000  # the IVF copy was built and used
    assert recall >= 0.9
    hits = index.search(queries[0], 10)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert abs(hits[0][1] - float(vecs[ids == hits[0][0]][0] @ queries[0])) < 2e-3  # exact (float16) scores

    one_video = set(ids[:60].tolist())  # a selective filter: searched exactly over its own vectors
    assert [i for i, _ in index.search(queries[0], 5, one_video)] == exact(vecs, ids, queries[0], 5, one_video)
    assert index.search(queries[0], 5, {10**9}) == []

    top = hits[0][0]
    index.remove([top])  # removal reaches the copy; no stale id comes back
    assert top not in {i for i, _ in index.search(queries[0], 10)} and index._ann.ntotal == 5999
    index.add([top], vecs[ids == top])  # re-adding lands in both
    assert index.search(queries[0], 1)[0][0] == top

    path = tmp_path / "nodes.faiss"
    index.save(path)
    assert ann_path(path).exists()
    loaded = VectorIndex.load(path, use_gpu=False)
    loaded.ann_above = 4000
    assert loaded._ann is not None and loaded._ann.ntotal == 6000  # no retraining on open
    assert loaded.search(queries[3], 10) == index.search(queries[3], 10)


def test_a_broad_filter_over_a_big_index_returns_only_allowed_ids():
    vecs = clustered(6000, seed=4)
    ids = np.arange(6000, dtype=np.int64) + 1
    index = VectorIndex(DIM, "e", use_gpu=False)
    index.ann_above = 4000
    index.add(ids, vecs)
    import vidrecall.memory.vector_index as vi

    allowed = set(ids[ids % 3 == 0].tolist())  # 2000 ids: above EXACT_FILTER_MAX below, so through the IVF
    old, vi.EXACT_FILTER_MAX = vi.EXACT_FILTER_MAX, 100
    try:
        hits = index.search(clustered(1, seed=5)[0], 10, allowed)
    finally:
        vi.EXACT_FILTER_MAX = old
    assert len(hits) == 10 and all(i in allowed for i, _ in hits)
    truth = set(exact(vecs, ids, clustered(1, seed=5)[0], 10, allowed))
    assert len({i for i, _ in hits} & truth) >= 7
