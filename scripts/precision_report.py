#!/usr/bin/env python3
"""Precision rungs on a trained model: the gate's pick, and every rung against fp32 where users' data is.

    python scripts/precision_report.py [--model DIR] [--bundle OUT] [--data DIR ...] [--queries N]
        [--depth K] [--methods MinMax,Percentile,Entropy] [--reuse] [--json OUT]

1. Exports MODEL (default ../shared/models/minilm-l6-ce-distilled) with the default quality gate
   (built-in documentation and web pools; no --eval), unless --reuse finds the bundle already there,
   and prints the gate's pick and every rung's speed on this machine (report.json "rungs").
2. For each judged collection (default ../shared/data/scifact and trec-dl-2020: BM25 top-K pools of
   N judged queries), scores fp32 and every rung of the bundle through crossrank's engine and prints
   top-10 overlap, Kendall tau and nDCG@10 drop (points) against fp32 (issue targets: overlap >= 0.95,
   drop <= 0.5).
3. With --methods, builds static int8 again with each calibration method (same calibration pairs
   as the export) and measures it the same way: the measurement behind the default (MinMax). These
   quantize the fused fp32 graph as it is (no attention split, no smoothing, no GELU percentile),
   with the rung's fp32 MatMuls excluded where their names exist there: a comparison of methods,
   not a rebuild of the rung.

Speeds are ratios on the machine it runs on, the rungs interleaved; on a shared machine while
others compile they are indicative only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

from crossrank.bundle import FP32_FILE, TOKENIZER_FILE, Bundle, runs_here
from crossrank.export.fidelity import compare, eval_pools, make_scorer, score_pools
from crossrank.export.pipeline import export_bundle
from crossrank.export.report import pool_sets
from crossrank.export.rungs import HISTOGRAM_LENGTH, calibration_pairs
from crossrank.export.static_int8 import PairReader, quantize_static_int8

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=SHARED / "models" / "minilm-l6-ce-distilled")
    p.add_argument("--bundle", type=Path, default=Path(tempfile.gettempdir()) / "crossrank-precision-report")
    p.add_argument("--data", type=Path, nargs="+",
                   default=[SHARED / "data" / "scifact", SHARED / "data" / "trec-dl-2020"])
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--depth", type=int, default=30)
    p.add_argument("--methods", default="", help="calibration methods to compare, comma-separated")
    p.add_argument("--reuse", action="store_true", help="use the bundle at --bundle if it is there")
    p.add_argument("--json", type=Path, default=None)
    return p.parse_args()


def _measure(bundle: Path, graphs: dict[str, Path], data: list[Path], queries: int, depth: int) -> dict:
    """{collection: {rung: metrics vs fp32}} over BM25 pools of each judged collection."""
    out = {}
    for folder in data:
        pools, qrels, _ = eval_pools(folder, depth=depth, max_queries=queries)
        ref = score_pools(make_scorer(bundle, bundle / FP32_FILE, precision="fp32"), pools)
        out[folder.name] = {}
        for name, path in graphs.items():
            precision = name.split()[0]  # "int8 (...)", "int8_static ...", "int8_token", "bf16"
            scores = score_pools(make_scorer(bundle, path, precision=precision), pools)
            m = compare(ref, scores, pools, qrels=qrels)
            out[folder.name][name] = m
            print(f"{folder.name:<14} {name:<28} top-10 {m['top10_overlap']:.3f} (min {m['top10_overlap_min']:.2f})"
                  f"  tau {m['kendall_tau']:.3f}  nDCG@10 fp32 {m['ndcg@10_reference']:.4f}"
                  f"  drop {m['ndcg@10_drop_points']:+.2f} pt", flush=True)
    return out


def _method_graphs(bundle: Path, methods: list[str]) -> dict[str, Path]:
    """Static int8 again with each calibration METHOD, calibrated on the export's pairs."""
    b = Bundle.load(bundle)
    report = json.loads((bundle / "report.json").read_text(encoding="utf-8"))
    kept = report["int8_static"]["quantization"]["kept_fp32_nodes"]
    sets = [ps for ps in pool_sets(None, None, 10) if ps.name in report["gated_on"]]
    pairs = calibration_pairs([p for ps in sets for p in ps.pools], report["int8_static"]["calibration"]["pairs"])
    out = {}
    for method in methods:
        path = bundle / f".method-{method}.onnx"
        reader = PairReader(b.tokenizer_file if b.tokenizer_file.is_file() else bundle / TOKENIZER_FILE, pairs,
                            max_length=b.max_length, input_names=b.manifest["inputs"],
                            pad_to=None if method == "MinMax" else HISTOGRAM_LENGTH)
        quantize_static_int8(bundle / FP32_FILE, path, reader, method=method, exclude=kept)
        out[f"int8_static {method}"] = path
    return out


def _print_search(static: dict) -> None:
    """The static int8 search's tries (score error on the built-in pools) and what it kept in fp32."""
    search = static.get("search") or {}
    for t in search.get("tries", []):
        print(f"  static try {t['name']:<40} score error {t['score_error']:.4f}")
    q = static.get("quantization") or {}
    print(f"  static: {q.get('quantized_matmuls')} MatMuls int8, kept fp32: {q.get('kept_fp32_nodes')}; "
          f"smoothing {q.get('smoothing', {}).get('alpha')}; search seconds {search.get('seconds')}\n")


def main() -> int:
    args = _arguments()
    if not args.model.is_dir():
        print(f"no model folder {args.model}", file=sys.stderr)
        return 2
    if not (args.reuse and (args.bundle / "report.json").is_file()):
        export_bundle(args.model, args.bundle, progress=True)
    report = json.loads((args.bundle / "report.json").read_text(encoding="utf-8"))
    rungs = report["rungs"]
    print(f"\ngate's pick (built-in pools: {', '.join(report['gated_on'])}): {rungs['chosen']}")
    for name, r in rungs["rungs"].items():
        print(f"  {name:<12} {'passes' if r['passed'] else 'fails ':<6} {r['pairs_per_s']:>8} pairs/s"
              f"  {r['speedup_vs_fp32']:.2f}x fp32")
    print(f"  int8 (dynamic) is: {report['gate']['chosen']}; int8_static is: {report['int8_static']['chosen']}")
    _print_search(report["int8_static"])
    b = Bundle.load(args.bundle)
    graphs = {f"int8 ({report['gate']['chosen']})": b.model_file("int8"),
              f"int8_static ({report['int8_static']['chosen']})": b.model_file("int8_static")}
    for rung in ("int8_token", "bf16"):  # the kernel rungs, where the bundle has them and this CPU runs them
        if rung in b.available_precisions() and runs_here(rung):
            graphs[rung] = b.model_file(rung)
    methods = [m for m in args.methods.split(",") if m]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graphs.update(_method_graphs(args.bundle, methods))
        results = _measure(args.bundle, graphs, args.data, args.queries, args.depth)
    for path in graphs.values():
        if path.name.startswith(".method-"):
            path.unlink()
    if args.json:
        args.json.write_text(json.dumps({"rungs": rungs, "collections": results}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
