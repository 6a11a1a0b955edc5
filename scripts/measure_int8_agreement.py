#!/usr/bin/env python3
"""Agreement of int8 graphs with a bundle's fp32 graph on judged data (BEIR layout).

    python scripts/measure_int8_agreement.py BUNDLE --eval DIR [--eval DIR ...] [--queries N]
        [--variant NAME=PATH ...] [--plain] [--json OUT]

Reranks BM25 top-100 (bm25s) of N judged queries per collection with the bundle's fp32 graph and
each int8 graph (the bundle's own model.int8.onnx as "bundle int8", --plain adds a per-tensor
dynamic int8 made from the bundle's fp32 graph, --variant adds any other file), all through
crossrank's engine, and prints per-query top-10 overlap, Kendall tau and the nDCG@10 of each.
These are agreement figures between two precisions of one model, not ranking quality.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--eval", type=Path, action="append", required=True, metavar="DIR")
    ap.add_argument("--queries", type=int, default=30, help="judged queries per collection (0: all)")
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--plain", action="store_true", help="also a per-tensor (plain) dynamic int8")
    ap.add_argument("--builtin", action="store_true", help="also the built-in offline pools")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from crossrank.export import fidelity as F
    from crossrank.export import gate as Q

    work = Path(tempfile.mkdtemp(prefix="crossrank-agreement-"))
    variants: dict[str, Path] = {}
    if args.plain:
        variants["plain int8 (per-tensor)"] = work / "plain.onnx"
        Q.quantize_variant(args.bundle / "model.onnx", variants["plain int8 (per-tensor)"],
                           per_channel=False)
    variants["bundle int8"] = args.bundle / "model.int8.onnx"
    for spec in args.variant:
        name, _, path = spec.partition("=")
        variants[name] = Path(path)

    sets = []
    if args.builtin:
        sets.append(("builtin", F.builtin_pools(), None, {}))
    for d in args.eval:
        pools, qrels, info = F.eval_pools(d, depth=args.depth, max_queries=args.queries or None)
        sets.append((d.name, pools, qrels, info))

    results: dict[str, object] = {"bundle": str(args.bundle), "sets": {}, "variants": {}}
    t0 = time.perf_counter()
    ref_scorer = F.make_scorer(args.bundle, args.bundle / "model.onnx", precision="fp32")
    refs = {}
    for name, pools, _, info in sets:
        t = time.perf_counter()
        refs[name] = F.score_pools(ref_scorer, pools)
        results["sets"][name] = {**info, "fp32_s": round(time.perf_counter() - t, 1)}
        print(f"{name}: {len(pools)} queries, {sum(len(p.docs) for p in pools)} pairs, fp32 scored in "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    del ref_scorer
    print(f"{'variant':<28} {'set':<10} {'top10':>6} {'tau':>6} {'rho':>6} {'nDCG fp32':>9} "
          f"{'int8':>6} {'diff pt':>8}")
    for vname, path in variants.items():
        scorer = F.make_scorer(args.bundle, path, precision="int8")
        results["variants"][vname] = {"file": str(path), "quantized_ops": Q.quantized_ops(path)}
        for name, pools, qrels, _ in sets:
            t = time.perf_counter()
            m = F.compare(refs[name], F.score_pools(scorer, pools), pools, qrels=qrels)
            m["int8_s"] = round(time.perf_counter() - t, 1)
            results["variants"][vname][name] = m
            print(f"{vname:<28} {name:<10} {m['top10_overlap']:6.3f} {m['kendall_tau']:6.3f} "
                  f"{m['spearman']:6.3f} {m.get('ndcg@10_reference', float('nan')):9.4f} "
                  f"{m.get('ndcg@10_test', float('nan')):6.4f} "
                  f"{m.get('ndcg@10_drop_points', float('nan')):+8.2f}", flush=True)
    results["total_s"] = round(time.perf_counter() - t0, 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
