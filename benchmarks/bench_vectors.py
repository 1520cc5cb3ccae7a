"""Similarity search, the approximate index, k-means and calibration at scale, on synthetic vectors.

The vectors are 512-d float32 unit vectors drawn around 1,000 random centres (real image embeddings
are clustered; uniformly random 512-d vectors have no neighbours worth the name, and no ANN index
reaches a useful recall on them). Each case runs in a subprocess of its own, so its peak memory
(ru_maxrss, vectors included: 1M x 512 x 4 B = 2 GB) is its own.

    python benchmarks/bench_vectors.py [--quick] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import machine, write_results  # noqa: E402

HEADING = "## Similarity and clustering"
DIM = 512
QUERIES = 20
RECALL_QUERIES = 100


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32)
    rows = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):  # in chunks, so the peak memory is the vectors' own
        block = rows[start:start + 100_000]
        rng.standard_normal(block.shape, dtype=np.float32, out=block)
        block *= np.float32(0.9)
        block += centres[rng.integers(0, 1000, len(block))]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    return rows


def index_of(rows: np.ndarray, ann_threshold: int):
    from imagier.operations.vectors import Matrix
    from imagier.vectors.index import SearchIndex
    vtype = {"id": 1, "name": "bench", "model": "random", "dim": DIM, "metric": "cosine", "version": 1,
             "dtype": "float32"}
    return SearchIndex(Matrix(vtype, np.arange(len(rows), dtype=np.int64), rows), ann_threshold)


def timed_queries(index, queries, **kwargs) -> tuple[float, list]:
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        rows, _ = index.search(index.vectors[q], 10, exclude=np.array([q]), **kwargs)
        times.append((time.perf_counter() - start) * 1000)
        found.append(set(rows.tolist()))
    return statistics.median(times), found


def case(name: str, n: int) -> dict:
    """One measurement (run in a child process)."""
    start = time.perf_counter()
    rows = vectors(n)
    made = time.perf_counter() - start
    queries = np.random.default_rng(1).choice(n, RECALL_QUERIES, replace=False)
    result: dict = {"case": name, "n": n}
    if name == "exact":
        index = index_of(rows, ann_threshold=n + 1)
        result["ms"], _ = timed_queries(index, queries[:QUERIES])
        candidates = np.sort(np.random.default_rng(2).choice(n, n // 10, replace=False))
        result["filtered_ms"], _ = timed_queries(index, queries[:QUERIES], candidates=candidates)
    elif name == "ann":
        exact = index_of(rows, ann_threshold=n + 1)
        _, truth = timed_queries(exact, queries)
        index = index_of(rows, ann_threshold=0)
        start = time.perf_counter()
        index.ann()
        result["build_s"] = time.perf_counter() - start
        result["ms"], found = timed_queries(index, queries)
        result["recall"] = float(np.mean([len(a & b) / 10 for a, b in zip(truth, found)]))
    elif name == "kmeans":
        from imagier.analysis.clustering import _kmeans
        start = time.perf_counter()
        labels = _kmeans(rows, 100)
        result["s"] = time.perf_counter() - start
        result["clusters"] = int(len(np.unique(labels)))
    elif name == "calibration":
        from imagier.vectors.calibration import calibrate
        index = index_of(rows, ann_threshold=n + 1)
        start = time.perf_counter()
        calibration = calibrate(index)
        result["s"] = time.perf_counter() - start
        result["pairs"] = len(calibration.similarities)
    result["data_s"] = made
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run(name: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--case", name, "--n", str(n)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes, for a smoke run")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.n)))
        return
    scale = 10 if args.quick else 1
    plan = [("exact", 100_000), ("exact", 1_000_000), ("ann", 100_000), ("ann", 1_000_000),
            ("kmeans", 500_000), ("calibration", 1_000_000)]
    lines = ["| case | vectors | time | other | peak memory |", "|---|---:|---:|---|---:|"]
    for name, n in plan:
        r = run(name, n // scale)
        if name == "exact":
            time_text, other = f"{r['ms']:.1f} ms / query", f"filter of 10%: {r['filtered_ms']:.1f} ms"
        elif name == "ann":
            time_text, other = f"{r['ms']:.2f} ms / query", f"recall@10 {r['recall']:.3f}, built in {r['build_s']:.1f} s"
        elif name == "kmeans":
            time_text, other = f"{r['s']:.1f} s", f"k = 100 ({r['clusters']} non-empty)"
        else:
            time_text, other = f"{r['s']:.2f} s", f"{r['pairs']:,} pairs"
        lines.append(f"| {name} | {r['n']:,} | {time_text} | {other} | {r['peak_mb']:,.0f} MB |")
        print(lines[-1], flush=True)
    load = os.getloadavg()
    section = "\n".join([
        HEADING, "",
        f"`python benchmarks/bench_vectors.py{' --quick' if args.quick else ''}` on {machine()}; load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end (the machine is shared, timings are noisy).",
        "",
        f"{DIM}-d float32 unit vectors around 1,000 random centres; times are medians of {QUERIES} top-10 queries "
        f"(ANN: {RECALL_QUERIES}); recall@10 against the exact search. The ANN index is an IVF of 8-bit "
        "scalar-quantised vectors (sqrt(n) lists, 48 probed) whose candidates are re-ranked exactly. Peak "
        "memory is the subprocess's, vectors included (2 GB at 1M).",
        "", *lines, ""])
    print(section)
    if args.write_results:
        write_results(section)


if __name__ == "__main__":
    main()
