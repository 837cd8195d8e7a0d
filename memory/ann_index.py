"""An IVF copy of a big memory index, for searches that would otherwise read every vector.

Below `ANN_ABOVE` vectors the flat float16 scan (memory/vector_index.py) is fast and exact. Above it, an
IndexIVFScalarQuantizer (8-bit codes, `nlist` ≈ n / 1000 inverted lists, `nprobe` lists searched)
proposes `RERANK_FACTOR * k` candidates, which are re-scored exactly from the flat float16 codes, so
the top-k order is the exact one among the candidates (recall is lost only to candidates the probed lists
miss; benchmarks/bench_faiss_scale.py measures it). The flat index stays the source of truth (deletes,
exact filters, persistence); this copy is rebuilt from it when it is missing or out of step.
"""
from __future__ import annotations

import math

import faiss
import numpy as np

ANN_ABOVE = 200_000  # vectors; below this the exact scan is already ~10 ms or less
NPROBE = 16  # 1.6 % of the lists at 10^6 nodes: recall@10 0.98 in bench_faiss_scale.py
RERANK_FACTOR = 4
TRAIN_PER_LIST = 40  # training vectors per inverted list (faiss warns below 39)
CHUNK = 100_000


def nlist_for(n: int) -> int:
    """About a thousand vectors per list, at least 64 lists: scan cost ~ nprobe * n / nlist."""
    return max(64, int(2 ** round(math.log2(max(1, n) / 1000))))


class IvfCopy:
    def __init__(self, index: faiss.IndexIVF, nprobe: int = NPROBE) -> None:
        self.index = index  # IndexIVFScalarQuantizer with ids = node ids
        self.nprobe = nprobe

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def nlist(self) -> int:
        return int(self.index.nlist)

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, *, nprobe: int = NPROBE, seed: int = 0) -> "IvfCopy":
        """Train on a sample of `vectors` (n x dim, any float dtype: read in chunks, never copied whole to
        float32), then add them all with their ids."""
        n, dim = vectors.shape
        nlist = nlist_for(n)
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                            faiss.METRIC_INNER_PRODUCT)
        ivf.cp.niter = 10
        sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, nlist * TRAIN_PER_LIST), replace=False))
        ivf.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            ivf.add_with_ids(np.ascontiguousarray(vectors[start:stop], dtype=np.float32),
                             np.ascontiguousarray(ids[start:stop], dtype=np.int64))
        return cls(ivf, nprobe)

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        self.index.add_with_ids(vecs, ids)

    def remove(self, ids: np.ndarray) -> None:
        self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def candidates(self, query: np.ndarray, k: int, nprobe: int | None = None, selector=None) -> np.ndarray:
        """Up to RERANK_FACTOR * k ids, approximately best first, from `nprobe` lists (default: self.nprobe),
        only those `selector` (a faiss IDSelector) allows when given."""
        params = faiss.SearchParametersIVF()
        params.nprobe = nprobe or self.nprobe
        if selector is not None:
            params.sel = selector
        _, ids = self.index.search(query, min(self.ntotal, RERANK_FACTOR * k), params=params)
        return ids[0][ids[0] >= 0]
