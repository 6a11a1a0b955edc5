"""The ``crossrank`` command line: bench, export, eval."""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("pool sizes must be positive")
    return values


def _bench(args: argparse.Namespace) -> int:
    from crossrank import benchmark
    from crossrank.bundle import Bundle

    if args.model is None:
        from crossrank.default_model import default_model

        print("model: embedded default (MiniLM-L6 encoder, untrained seeded head: its scores carry no "
              "relevance; its speed is cross-encoder/ms-marco-MiniLM-L-6-v2's)", flush=True)
        bundle = Bundle.load(default_model())
    else:
        bundle = Bundle.load(args.model)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    results = benchmark.run(bundle, engines, args.pools, repeats=args.repeats, profile=args.profile,
                            threads=args.threads)
    if args.json:
        meta = {"model": str(bundle.path), "profile": args.profile, "repeats": args.repeats,
                "machine": platform.processor() or platform.machine(), "python": platform.python_version()}
        benchmark.save_json(results, args.json, meta)
        print(f"wrote {args.json}")
    return 0


def _export(args: argparse.Namespace) -> int:
    import json

    from crossrank.export import export_bundle, export_kwargs

    try:
        out = export_bundle(args.model, args.out, **export_kwargs(args))
    except OSError as error:  # e.g. a Hub id while offline
        print(f"crossrank export: error: {error}", file=sys.stderr)
        return 2
    manifest = json.loads((out / "crossrank.json").read_text(encoding="utf-8"))
    check = manifest.get("verification") or {}
    print(f"wrote {out}")
    print(f"  fused: {', '.join(manifest['optimization']['applied']) or 'nothing'}")
    if check:
        print(f"  max |logit difference| vs PyTorch on {check['pairs']} pairs: "
              f"fp32 {check['fp32_max_abs_diff']:.2g}, int8 {check['int8_max_abs_diff']:.2g}")
    gate = (manifest.get("fidelity") or {}).get("gate") or {}
    if gate:
        print(f"  quality gate: {gate['message']}")
        print(f"  default precision: {manifest['default_precision']} (details: {out / 'report.json'})")
    for note in manifest.get("notes", []):
        print(f"  note: {note}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crossrank", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="latency and throughput per pool size")
    bench.add_argument("--model", type=Path, help="bundle folder (default: the embedded default model)")
    bench.add_argument("--pools", type=_int_list, default=[10, 50, 100, 200, 500, 1000])
    bench.add_argument("--engines", default="crossrank-int8,crossrank-fp32,ort-naive-int8,ort-naive-fp32")
    bench.add_argument("--profile", default="msmarco", choices=["msmarco", "long"])
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--threads", type=int, default=None)
    bench.add_argument("--json", type=Path, default=None)
    bench.set_defaults(run=_bench)

    from crossrank.export import add_export_arguments

    export = commands.add_parser("export", help="turn a Hugging Face cross-encoder into a verified bundle")
    add_export_arguments(export)
    export.set_defaults(run=_export)

    from crossrank.retrieval.evaluate import add_eval_parser

    add_eval_parser(commands)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(f"crossrank {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
