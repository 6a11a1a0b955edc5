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
    from crossrank.export import export_bundle

    export_bundle(args.model, args.out, max_length=args.max_length)
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

    export = commands.add_parser("export", help="turn a Hugging Face cross-encoder into a bundle")
    export.add_argument("model", help="local folder or Hugging Face Hub id")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--max-length", type=int, default=512)
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
