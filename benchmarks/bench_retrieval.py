"""Retrieval benchmark: faiss_flat, faiss_ivf (nprobe sweep) and torch brute force on one data set.

All three backends are the robomem ones (``robomem.index``), built through ``create_index`` and run in
this process on the same vectors and queries. The torch brute force is the baseline: its top-k is the
ground truth for recall@k, and every speed is reported as a ratio to its latency.

Data: ``--n`` clustered unit vectors of size ``--dim`` (float32) around ``--clusters`` random centres
(image/text features cluster by object class), and ``--queries`` held-out queries from the same clusters.

Memory: one copy of the data is ``n * dim * 4`` bytes; the data set stays in memory while each backend holds
one more copy (one backend at a time). Defaults (1,000,000 x 256 = 1.0 GB per copy, ~2.5 GB peak) fit the
24 GB dev machines; 1,000,000 x 512 doubles that (~5 GB peak); 500,000 x 512 equals the default.

Reported per backend: build time (add + IVF training), batched latency (all queries in one call, divided by
the number of queries), single-query latency (p50 of one-query calls), speed-up vs brute force (batched),
recall@k vs brute force. The target is IVF recall@10 >= 0.95 with a real speed-up.

    python benchmarks/bench_retrieval.py                       # full size (the lead runs this)
    python benchmarks/bench_retrieval.py --n 20000 --dim 64    # smoke run
    python benchmarks/bench_retrieval.py --json results.json   # also write the numbers as JSON

Threads: FAISS (OpenMP) and torch use every core by default. On a machine shared with other busy processes,
OpenMP threads that spin-wait make FAISS timings erratic (a 1 ms search measured 24 ms on a loaded 2-core
box); pass ``--threads N`` (N <= free cores, e.g. 1) there so both sides run with the same thread count.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from robomem.config import IndexConfig
from robomem.index.base import VectorIndex, create_index
from robomem.index.faiss_index import FaissIVFIndex


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    backend: str
    nprobe: int  # 0: not an IVF setting
    build_s: float
    batch_ms_per_query: float
    single_ms_p50: float
    speedup_vs_brute: float
    recall_at_k: float


def make_data(
    n: int, dim: int, n_queries: int, n_clusters: int, spread: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(n, dim) database and (n_queries, dim) queries, float32 unit rows, same clusters; built in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def draw(m: int) -> np.ndarray:
        out = np.empty((m, dim), dtype=np.float32)
        for start in range(0, m, 100_000):
            stop = min(start + 100_000, m)
            x = centres[rng.integers(0, n_clusters, stop - start)]
            x = x + (spread / np.sqrt(dim)) * rng.standard_normal((stop - start, dim), dtype=np.float32)
            out[start:stop] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out

    return draw(n), draw(n_queries)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of the true top-k ids found, averaged over queries."""
    hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth))
    return hits / truth.size


def time_batch(search: Callable[[np.ndarray, int], Any], queries: np.ndarray, k: int, repeats: int) -> float:
    """Best-of-``repeats`` wall time of one batched search, ms per query."""
    search(queries[:1], k)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        search(queries, k)
        best = min(best, time.perf_counter() - t0)
    return 1000.0 * best / len(queries)


def time_single(search: Callable[[np.ndarray, int], Any], queries: np.ndarray, k: int, n_single: int) -> float:
    """p50 latency of one-query searches, ms."""
    times = []
    for q in queries[:n_single]:
        t0 = time.perf_counter()
        search(q[None, :], k)
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def build(backend: str, dim: int, ids: np.ndarray, data: np.ndarray, cfg: IndexConfig) -> tuple[VectorIndex, float]:
    index = create_index(dim, cfg)
    t0 = time.perf_counter()
    for start in range(0, len(ids), 200_000):  # batched adds, as a growing memory would
        index.add(ids[start : start + 200_000], data[start : start + 200_000])
    return index, time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.threads > 0:
        import faiss
        import torch

        faiss.omp_set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    k = args.k
    t0 = time.perf_counter()
    data, queries = make_data(args.n, args.dim, args.queries, args.clusters, args.spread, args.seed)
    ids = np.arange(args.n, dtype=np.int64) * 3 + 1  # non-trivial ids: results must map back
    print(f"data: {args.n} x {args.dim} float32 ({data.nbytes / 2**30:.2f} GiB), {args.queries} queries, "
          f"{args.clusters} clusters, generated in {time.perf_counter() - t0:.1f} s", flush=True)
    base = dict(use_gpu=args.use_gpu, ivf_nlist=args.nlist, ivf_min_train=min(args.n, 20000))
    rows: list[Row] = []

    # Baseline: torch brute force (also the ground truth).
    brute, build_s = build("torch", args.dim, ids, data, IndexConfig(backend="torch", **base))
    _, truth = brute.search(queries, k)
    brute_ms = time_batch(brute.search, queries, k, args.repeats)
    rows.append(Row("torch", 0, build_s, brute_ms, time_single(brute.search, queries, k, args.single),
                    1.0, recall(brute.search(queries, k)[1], truth)))
    _print(rows[-1])
    del brute
    gc.collect()

    flat, build_s = build("faiss_flat", args.dim, ids, data, IndexConfig(backend="faiss_flat", **base))
    ms = time_batch(flat.search, queries, k, args.repeats)
    rows.append(Row("faiss_flat", 0, build_s, ms, time_single(flat.search, queries, k, args.single),
                    brute_ms / ms, recall(flat.search(queries, k)[1], truth)))
    _print(rows[-1])
    del flat
    gc.collect()

    ivf, build_s = build("faiss_ivf", args.dim, ids, data, IndexConfig(backend="faiss_ivf", **base))
    assert isinstance(ivf, FaissIVFIndex)
    print(f"faiss_ivf: nlist {ivf.nlist} (trained: {ivf.is_trained})", flush=True)
    for nprobe in args.nprobe:
        if nprobe > max(ivf.nlist, 1):
            continue
        ivf.set_nprobe(nprobe)
        ms = time_batch(ivf.search, queries, k, args.repeats)
        rows.append(Row("faiss_ivf", nprobe, build_s, ms, time_single(ivf.search, queries, k, args.single),
                        brute_ms / ms, recall(ivf.search(queries, k)[1], truth)))
        _print(rows[-1])

    good = [r for r in rows if r.backend == "faiss_ivf" and r.recall_at_k >= 0.95]
    best = max(good, key=lambda r: r.speedup_vs_brute) if good else None
    if best is not None:
        print(f"target: faiss_ivf recall@{k} >= 0.95 at nprobe {best.nprobe}: recall {best.recall_at_k:.3f}, "
              f"{best.speedup_vs_brute:.1f}x faster than brute force -> "
              f"{'MET' if best.speedup_vs_brute > 1.0 else 'NOT MET (no speed-up)'}")
    else:
        print(f"target: NOT MET: no nprobe reached recall@{k} >= 0.95")
    return {
        "args": vars(args),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "ivf_nlist": ivf.nlist,
        "rows": [asdict(r) for r in rows],
        "target_met": bool(best is not None and best.speedup_vs_brute > 1.0),
    }


def _print(r: Row) -> None:
    label = r.backend if not r.nprobe else f"{r.backend} nprobe={r.nprobe}"
    print(f"{label:24s} build {r.build_s:7.2f} s | batch {r.batch_ms_per_query:8.3f} ms/query | "
          f"single p50 {r.single_ms_p50:8.3f} ms | {r.speedup_vs_brute:6.1f}x vs brute | "
          f"recall@k {r.recall_at_k:.3f}", flush=True)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="database vectors (default 1,000,000)")
    p.add_argument("--dim", type=int, default=256, help="vector size (default 256; see memory note)")
    p.add_argument("--queries", type=int, default=100, help="queries (default 100)")
    p.add_argument("--k", type=int, default=10, help="neighbours per query (default 10)")
    p.add_argument("--clusters", type=int, default=1000, help="data clusters (default 1000)")
    p.add_argument("--spread", type=float, default=1.0, help="cluster spread (noise norm, default 1.0)")
    p.add_argument("--nlist", type=int, default=1024, help="IVF cells (IndexConfig.ivf_nlist, default 1024)")
    p.add_argument("--nprobe", type=int, nargs="+", default=[1, 4, 8, 16, 32, 64, 128], help="nprobe sweep")
    p.add_argument("--repeats", type=int, default=3, help="batched timings: best of this many (default 3)")
    p.add_argument("--single", type=int, default=20, help="one-query calls for the p50 (default 20)")
    p.add_argument("--threads", type=int, default=0, help="faiss + torch threads (0: library default)")
    p.add_argument("--use-gpu", default="never", choices=["never", "auto", "always"], help="IndexConfig.use_gpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    for name in ("n", "dim", "queries", "k", "clusters", "nlist", "repeats", "single"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be > 0")
    if args.k > args.n:
        p.error("--k must be <= --n")
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    args = parse_args(argv)
    results = run(args)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=args.json.parent, prefix=args.json.name, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({**results, "args": {**results["args"], "json": str(args.json)}}, f, indent=2)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
