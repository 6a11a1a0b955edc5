#!/usr/bin/env python3
"""Ray overhead: pairs/s of ``Dataset.map_batches(crossrank.integrations.ray.Scorer)`` with 1 and 2 workers
(1 thread each) beside one in-process Reranker with 2 threads, on the same pairs, in one run.

    python scripts/bench_ray.py [BUNDLE] [--pairs 20000] [--batch-size 1024] [--repeats 3] [--json OUT]

Pairs are real passages (crossrank.workloads), one query per 100 of them, as in a pool of 100. Ray's
cluster is started before the clock starts; Ray Data starts a fresh actor pool for every dataset, so
that fixed cost is timed apart on 8 pairs and the "_steady" rates leave it out (what a long job
amortizes). Each timing is the median of --repeats runs. Needs ``pip install 'crossrank[ray]'``; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from crossrank import workloads
from crossrank.default_model import default_model
from crossrank.integrations.ray import Scorer
from crossrank.reranker import Reranker


def _pairs(count: int) -> list[tuple[str, str]]:
    docs = workloads.passages(count)
    return [(workloads.query(i // 100), doc) for i, doc in enumerate(docs)]


def _seconds(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _median_rate(run, pairs: int, repeats: int) -> float:
    return pairs / statistics.median(_seconds(run) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=None)
    parser.add_argument("--pairs", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import ray

    bundle = str(args.bundle or default_model())
    pairs = _pairs(args.pairs)
    reranker = Reranker(bundle, threads=2)
    reranker.score_pairs(pairs[:200], show_progress=False)  # warm up
    results = {"pairs": len(pairs), "in_process_2_threads": _median_rate(
        lambda: reranker.score_pairs(pairs, show_progress=False), len(pairs), args.repeats)}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    rows = ray.data.from_items([{"query": q, "document": d} for q, d in pairs]).materialize()
    tiny = ray.data.from_items([{"query": q, "document": d} for q, d in pairs[:8]]).materialize()
    for workers in (1, 2):
        def run(data, workers: int = workers) -> None:
            data.map_batches(Scorer, fn_constructor_kwargs={"bundle": bundle, "threads": 1},
                             compute=ray.data.ActorPoolStrategy(size=workers),
                             batch_size=args.batch_size, num_cpus=1).materialize()

        # Ray Data starts a fresh actor pool per dataset: its fixed cost (processes, model loads) is
        # timed on 8 pairs and reported apart, since a long job pays it once.
        startup = statistics.median(_seconds(lambda: run(tiny)) for _ in range(args.repeats))
        total = statistics.median(_seconds(lambda: run(rows)) for _ in range(args.repeats))
        results[f"ray_{workers}_workers_startup_s"] = startup
        results[f"ray_{workers}_workers_1_thread"] = len(pairs) / total
        results[f"ray_{workers}_workers_1_thread_steady"] = len(pairs) / max(total - startup, 1e-9)
    for kind in ("", "_steady"):
        results[f"ray_2_workers_vs_in_process{kind}"] = (
            results[f"ray_2_workers_1_thread{kind}"] / results["in_process_2_threads"])
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
