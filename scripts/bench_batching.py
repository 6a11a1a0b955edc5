#!/usr/bin/env python3
"""Where batching pays: the length-bucketed planner at max_batch_size 1-64, per precision, in one run.

    python scripts/bench_batching.py BUNDLE [--pool 100] [--sizes 1,2,4,8,16,32,64] [--threads 2]
        [--precisions int8_static,fp32] [--repeats 5] [--data DIR] [--json OUT]

For each precision the bundle has that scores a pair the same in any batch (int8_static, bf16 where
present, fp32), and for each max_batch_size, two layouts of the same THREADS cores:
``concurrent_batches=THREADS`` (single-threaded runs side by side, the engine's default) and
``concurrent_batches=1`` (each batch spread over all cores). Pairs: one query and POOL passages
(TREC DL 2020's first BM25 pool with --data, else crossrank.workloads' passages). All Rerankers are
loaded first and timed interleaved (rotated order per repetition), so drift hits them alike; each
cell is the median seconds of one score_pairs call. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

from crossrank import workloads
from crossrank.reranker import Reranker


def _pairs(pool: int, data: Path | None) -> list[tuple[str, str]]:
    if data is not None:
        query, docs = workloads.trec_dl_pool(data, pool)
    else:
        query, docs = workloads.query(0), workloads.passages(pool)
    return [(query, doc) for doc in docs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--pool", type=int, default=100)
    ap.add_argument("--sizes", default="1,2,4,8,16,32,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precisions", default="int8_static,fp32")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data", type=Path, default=None, help="TREC DL 2020 folder (BEIR layout with a run)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    pairs = _pairs(args.pool, args.data)
    configs = [(p, size, concurrent) for p in args.precisions.split(",")
               for size in map(int, args.sizes.split(","))
               for concurrent in sorted({args.threads, 1})]
    rerankers = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for precision, size, concurrent in configs:
            rerankers[(precision, size, concurrent)] = Reranker(
                args.bundle, precision=precision, threads=args.threads, concurrent_batches=concurrent,
                max_batch_size=size, verify_checksums=False)
    for r in rerankers.values():
        r.score_pairs(pairs[:8], show_progress=False)  # warm-up
    times: dict[tuple, list[float]] = {key: [] for key in rerankers}
    keys = list(rerankers)
    for rep in range(args.repeats):
        shift = rep * len(keys) // max(args.repeats, 1)
        for key in keys[shift:] + keys[:shift]:
            start = time.perf_counter()
            rerankers[key].score_pairs(pairs, show_progress=False)
            times[key].append(time.perf_counter() - start)
    rows = []
    for (precision, size, concurrent), t in times.items():
        stats = rerankers[(precision, size, concurrent)].last_stats
        rows.append({"precision": precision, "max_batch_size": size, "concurrent_batches": concurrent,
                     "ms": 1000 * statistics.median(t), "batches": stats.batches,
                     "padding": round(stats.padding_fraction, 3)})
    print(f"{'precision':<12} {'batch':>5} {'runs':>4} {'ms':>8} {'vs batch 1':>10} {'batches':>7} {'padding':>7}")
    base = {(r["precision"], r["concurrent_batches"]): r["ms"] for r in rows if r["max_batch_size"] == 1}
    for r in rows:
        ratio = base[(r["precision"], r["concurrent_batches"])] / r["ms"]
        print(f"{r['precision']:<12} {r['max_batch_size']:>5} {r['concurrent_batches']:>4} {r['ms']:>8.1f} "
              f"{ratio:>9.2f}x {r['batches']:>7} {r['padding']:>7.1%}")
    if args.json:
        args.json.write_text(json.dumps({"bundle": str(args.bundle), "pool": args.pool, "threads": args.threads,
                                         "pairs_from": str(args.data or "crossrank.workloads"),
                                         "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
