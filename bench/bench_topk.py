"""Benchmark crossrank's exact_topk against a full-sort baseline.

    python bench/bench_topk.py                      # 1,000,000 x 384, queries 1 / 16 / 128, k 10 / 100
    python bench/bench_topk.py --docs 100000 --queries 1,8 --k 10 --repeats 3 --json out.json

Both take the same float32 corpus of L2-normalised random vectors. The baseline computes the full
(queries x docs) score matrix and sorts each row (``np.argsort(-scores, kind="stable")[:, :k]``);
exact_topk works block by block with partial selection. Reported: median wall time and the peak
memory allocated beyond the corpus (tracemalloc, which sees numpy's allocations), and whether the
two returned the same indices.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from crossrank.retrieval.topk import exact_topk  # noqa: E402


def full_sort_topk(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ corpus.T
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(scores, idx, axis=1)


def measure(fn, repeats: int) -> tuple[float, float, tuple[np.ndarray, np.ndarray]]:
    """(median seconds, peak MiB allocated during one call, result)."""
    result = fn()  # warm-up (BLAS threads, page faults)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), peak, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", default="1,16,128")
    parser.add_argument("--k", default="10,100")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    corpus = np.empty((args.docs, args.dim), dtype=np.float32)
    for start in range(0, args.docs, 100_000):  # fill in chunks: no float64 copy of the corpus
        block = rng.standard_normal((min(100_000, args.docs - start), args.dim), dtype=np.float32)
        corpus[start:start + block.shape[0]] = block / np.linalg.norm(block, axis=1, keepdims=True)
    print(f"corpus {args.docs:,} x {args.dim} float32 = {corpus.nbytes / 2**20:,.0f} MiB; "
          f"{os.cpu_count()} CPUs; numpy {np.__version__}", flush=True)
    rows = []
    print(f"{'queries':>7} {'k':>5} {'method':>12} {'median s':>9} {'peak MiB':>9} {'same':>5}")
    for nq in (int(x) for x in args.queries.split(",")):
        queries = rng.standard_normal((nq, args.dim), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        for k in (int(x) for x in args.k.split(",")):
            t_ref, m_ref, (ref_idx, _) = measure(lambda: full_sort_topk(queries, corpus, k), args.repeats)
            t_top, m_top, (idx, _) = measure(lambda: exact_topk(queries, corpus, k), args.repeats)
            same = bool(np.array_equal(idx, ref_idx))
            for method, t, m in (("full sort", t_ref, m_ref), ("exact_topk", t_top, m_top)):
                print(f"{nq:>7} {k:>5} {method:>12} {t:>9.3f} {m:>9.1f} {str(same):>5}", flush=True)
                rows.append({"queries": nq, "k": k, "method": method, "median_s": round(t, 4),
                             "peak_mib": round(m, 1), "same_indices": same})
    if args.json:
        meta = {"docs": args.docs, "dim": args.dim, "repeats": args.repeats, "cpus": os.cpu_count(),
                "machine": platform.processor() or platform.machine(), "numpy": np.__version__}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
