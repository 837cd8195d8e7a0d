"""FAISS search at library scale: 10^6 caption-like vectors (a 100-video library at the fine level).

Vectors are random but clustered the way captions are: each video draws from a few dozen topics
(global cluster centres), each caption is its topic plus noise; queries are topics plus noise too.
The memory index (memory/vector_index.py) switches to an IVF copy with exact re-scoring above
`ANN_ABOVE` vectors (memory/ann_index.py); this prints, single-threaded search as the memory runs it:

- build time (flat float16 add; IVF train + fill), memory per million nodes,
- p50/p95 top-10 latency and recall@10 against exact float32 search, unfiltered, one video (1 %),
  and 30 videos (30 %), for a few nprobe values, and the flat float16 scan for reference.

    python benchmarks/bench_faiss_scale.py [--nodes 1000000] [--videos 100] [--queries 200]
Target (issue 15): p50 top-10 <= 10 ms with recall@10 >= 0.95.
"""
from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

from vidrecall.memory import ann_index
from vidrecall.memory.vector_index import VectorIndex

DIM = 384
TOPICS = 4000
TOPICS_PER_VIDEO = 40
NOISE = 0.9  # noise norm relative to a topic's: captions of one topic are related, not identical


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def library_vectors(n: int, videos: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(vectors float32 n x DIM, video of each), generated in chunks."""
    centres = unit(rng.standard_normal((TOPICS, DIM)).astype(np.float32))
    per_video = [rng.choice(TOPICS, TOPICS_PER_VIDEO, replace=False) for _ in range(videos)]
    video = np.repeat(np.arange(videos), int(np.ceil(n / videos)))[:n]
    out = np.empty((n, DIM), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        topic = np.array([per_video[v][t] for v, t in zip(video[s:e], rng.integers(0, TOPICS_PER_VIDEO, e - s))])
        noise = rng.standard_normal((e - s, DIM)).astype(np.float32) * (NOISE / np.sqrt(DIM))
        out[s:e] = unit(centres[topic] + noise)
    return out, video


def queries_for(n: int, videos: int, vecs: np.ndarray, rng) -> np.ndarray:
    """Questions near stored captions: a stored vector plus as much noise again."""
    picks = rng.integers(0, len(vecs), n)
    return unit(vecs[picks] + rng.standard_normal((n, DIM)).astype(np.float32) * (NOISE / np.sqrt(DIM)))


def exact_topk(vecs: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, mask=None) -> list[set[int]]:
    flat = faiss.IndexFlatIP(DIM)
    sub = vecs if mask is None else vecs[mask]
    sub_ids = ids if mask is None else ids[mask]
    flat.add(sub)
    _, pos = flat.search(queries, k)
    return [set(sub_ids[p].tolist()) for p in pos]


def timed(search, queries) -> tuple[list[float], list[list[int]]]:
    search(queries[0])
    ms, found = [], []
    for q in queries:
        t = time.perf_counter()
        hits = search(q)
        ms.append((time.perf_counter() - t) * 1000)
        found.append([i for i, _ in hits])
    return ms, found


def line(name: str, ms: list[float], found: list[list[int]], truth: list[set[int]], k: int) -> float:
    recall = float(np.mean([len(set(f[:k]) & t) / k for f, t in zip(found, truth)]))
    p50, p95 = statistics.median(ms), sorted(ms)[int(0.95 * (len(ms) - 1))]
    print(f"  {name:<44} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  recall@{k} {recall:.3f}")
    return recall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--videos", type=int, default=100)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 24, 32])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    faiss.omp_set_num_threads(2)  # building may use both cores; searches run single-threaded (the memory's default)

    t = time.perf_counter()
    vecs, video = library_vectors(args.nodes, args.videos, rng)
    ids = np.arange(args.nodes, dtype=np.int64) * 3 + 1  # node ids are not positions
    queries = queries_for(args.queries, args.videos, vecs, rng)
    print(f"{args.nodes:,} vectors x {DIM} d, {args.videos} videos; generated in {time.perf_counter() - t:.1f} s")

    index = VectorIndex(DIM, "bench", use_gpu=False)
    t = time.perf_counter()
    for s in range(0, args.nodes, 100_000):
        index.add(ids[s:s + 100_000], vecs[s:s + 100_000])
    add_s = time.perf_counter() - t
    t = time.perf_counter()
    ann = index.ann()
    ivf_s = time.perf_counter() - t
    flat_bytes = args.nodes * (DIM * 2 + 8)  # float16 codes + the id map (plus its reverse hash map)
    ivf_bytes = ann.index.ntotal * (DIM + 8) + ann.nlist * DIM * 4
    per_m = 1e6 / args.nodes
    print(f"build: flat float16 add {add_s:.1f} s; IVF-SQ8 (nlist {ann.nlist}) train + fill {ivf_s:.1f} s")
    print(f"memory per million nodes: flat float16 {flat_bytes * per_m / 2**20:.0f} MiB + IVF copy "
          f"{ivf_bytes * per_m / 2**20:.0f} MiB = {(flat_bytes + ivf_bytes) * per_m / 2**20:.0f} MiB "
          f"(float32 would be {args.nodes * DIM * 4 * per_m / 2**20:.0f} MiB)")

    truth_all = exact_topk(vecs, ids, queries, args.k)
    one = video == 7
    truth_one = exact_topk(vecs, ids, queries, args.k, one)
    thirty = video < 30
    truth_thirty = exact_topk(vecs, ids, queries, args.k, thirty)
    allowed_one, allowed_thirty = set(ids[one].tolist()), set(ids[thirty].tolist())

    print(f"top-{args.k}, one thread, {args.queries} queries:")
    for nprobe in args.nprobe:
        ann.nprobe = nprobe
        print(f" nprobe {nprobe}:")
        line("all videos (IVF + exact re-score)", *timed(lambda q: index.search(q, args.k), queries), truth_all, args.k)
        line(f"30 videos ({thirty.mean():.0%}, IVF x2 lists, bitmap filter, re-score)",
             *timed(lambda q: index.search(q, args.k, allowed_thirty), queries), truth_thirty, args.k)
    ann.nprobe = ann_index.NPROBE
    line(f"one video ({one.mean():.0%}, exact over its vectors)",
         *timed(lambda q: index.search(q, args.k, allowed_one), queries), truth_one, args.k)
    index.ann_above = args.nodes + 1  # the flat scan alone, for reference
    line("flat float16 exact scan (below the threshold)", *timed(lambda q: index.search(q, args.k), queries[:50]),
         truth_all[:50], args.k)


if __name__ == "__main__":
    main()
