#!/usr/bin/env python3
"""What the one-line switch buys: ``crossrank.CrossEncoder.predict`` beside sentence-transformers'
``CrossEncoder.predict`` on the same model and pairs, in one run.

    python scripts/bench_dropin.py [HF_FOLDER] [--bundle BUNDLE] [--pools 10,100] [--repeats 5] [--threads 2]

HF_FOLDER defaults to ../shared/models/minilm-l6-ce-distilled (a trained MiniLM-L6 cross-encoder);
crossrank loads BUNDLE (its export; default: the folder, exported on first use and cached) at its
default precision (the quality gate's pick) and at fp32. Pools are one query against N passages
(crossrank.workloads), scored with each library's defaults; calls alternate between the engines and
the median of --repeats is reported. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from crossrank import workloads
from crossrank.integrations.sentence_transformers import CrossEncoder

DEFAULT_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "minilm-l6-ce-distilled"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--pools", default="10,100")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import sentence_transformers
    import torch

    torch.set_num_threads(args.threads)
    engines = {
        "sentence-transformers (PyTorch fp32)": sentence_transformers.CrossEncoder(str(args.folder), device="cpu"),
        "crossrank.CrossEncoder (default precision)": CrossEncoder(str(args.bundle or args.folder),
                                                                   threads=args.threads),
        "crossrank.CrossEncoder (fp32)": CrossEncoder(str(args.bundle or args.folder), threads=args.threads,
                                                      precision="fp32"),
    }
    results: dict[str, dict[str, float]] = {}
    for pool in map(int, args.pools.split(",")):
        pairs = [(workloads.query(0), doc) for doc in workloads.passages(pool)]
        times: dict[str, list[float]] = {name: [] for name in engines}
        for name, model in engines.items():
            model.predict(pairs[:4])  # warm up
        for _ in range(args.repeats):
            for name, model in engines.items():
                start = time.perf_counter()
                model.predict(pairs)
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
        base = medians["sentence-transformers (PyTorch fp32)"]
        results[f"pool {pool}"] = {name: round(ms, 1) for name, ms in medians.items()}
        for name, ms in medians.items():
            print(f"pool {pool:4d}  {name:45s} {ms:9.1f} ms  {base / ms:5.2f}x")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
