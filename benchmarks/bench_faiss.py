"""FAISS top-10 search latency over 10^5 memory nodes (random normalised 384-d vectors).

Target: p50 < 5 ms, with and without a video filter. The index stores float16 vectors (see
memory/vector_index.py), so recall@10 against exact float32 search is printed too. Also printed: a plain
numpy brute-force search measured in the same run, as a reference for the machine's speed at that moment
(ratios travel, ms don't).

    python benchmarks/bench_faiss.py [--nodes 100000] [--videos 100] [--queries 200]
"""
from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

from vidrecall.memory.vector_index import VectorIndex

DIM = 384  # all-MiniLM-L6-v2


def latencies_ms(search, queries: np.ndarray) -> list[float]:
    search(queries[0])  # warm caches
    out = []
    for q in queries:
        t = time.perf_counter()
        search(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(name: str, ms: list[float], reference_p50: float) -> None:
    p50 = statistics.median(ms)
    p95 = sorted(ms)[int(0.95 * (len(ms) - 1))]
    print(f"{name:<46} p50 {p50:8.3f} ms   p95 {p95:8.3f} ms   p50/numpy {p50 / reference_p50:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--videos", type=int, default=100, help="nodes are spread evenly over this many videos")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((args.nodes, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1, args.nodes + 1, dtype=np.int64)
    queries = rng.standard_normal((args.queries, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    default_threads = VectorIndex(DIM, "bench", search_threads=None)  # faiss's OpenMP default
    default_threads.add(ids, vecs)
    single_thread = VectorIndex(DIM, "bench")  # what VideoMemory uses
    single_thread.add(ids, vecs)
    one_video = {int(i) for i in ids[:: args.videos]}  # ~1% of the nodes, interleaved like real inserts
    half = {int(i) for i in ids[::2]}

    print(f"{args.nodes} nodes x {DIM} d, {args.queries} queries, faiss {faiss.__version__}, "
          f"{faiss.omp_get_max_threads()} OpenMP threads, GPUs: {faiss.get_num_gpus()}")

    def numpy_top10(q):
        scores = vecs @ q
        return np.argpartition(-scores, 10)[:10]

    reference = statistics.median(latencies_ms(numpy_top10, queries))
    print(f"{'numpy brute force (reference)':<46} p50 {reference:8.3f} ms")
    exact = [set(np.argsort(-(vecs @ q))[:10] + 1) for q in queries]
    found = [{i for i, _ in single_thread.search(q, 10)} for q in queries]
    print(f"{'recall@10 of the float16 index vs exact':<46} {np.mean([len(e & f) / 10 for e, f in zip(exact, found)]):.4f}")
    for tag, index in ((f"[{faiss.omp_get_max_threads()} threads]", default_threads), ("[1 thread]", single_thread)):
        report(f"top-10, no filter {tag}", latencies_ms(lambda q: index.search(q, 10), queries), reference)
        report(f"top-10, one video's {len(one_video)} nodes {tag}",
               latencies_ms(lambda q: index.search(q, 10, one_video), queries), reference)
        report(f"top-10, half the nodes allowed {tag}",
               latencies_ms(lambda q: index.search(q, 10, half), queries), reference)

if __name__ == "__main__":
    main()
