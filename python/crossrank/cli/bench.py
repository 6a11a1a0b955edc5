"""``crossrank bench``: latency per pool size against the engines users would otherwise pick."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crossrank import workloads


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
    from crossrank._system import physical_core_count
    from crossrank.bundle import Bundle
    from crossrank.benchmark.gemm_rate import Int8GemmProbe

    # Checked first: an unknown name or a missing data folder should fail before the default model is built.
    engines = benchmark.expand_engines([e.strip() for e in args.engines.split(",") if e.strip()])
    query, docs = workloads.pool(args.profile, max(args.pools), args.data)
    if args.model is None:
        from crossrank.default_model import default_model

        print("model: embedded default (MiniLM-L6 encoder, untrained seeded head: its scores carry no "
              "relevance; its speed is cross-encoder/ms-marco-MiniLM-L-6-v2's)", flush=True)
        bundle = Bundle.load(default_model())
    else:
        bundle = Bundle.load(args.model)
    threads = args.threads or physical_core_count()
    machine = benchmark.machine_info(threads)
    print(f"machine: {machine['cpu']}, {threads} threads, {' '.join(machine['cpu_features'])}", flush=True)
    gemm = Int8GemmProbe(threads)
    gemm_before = gemm.measure(5)
    print(f"int8 GEMM rate (ONNX Runtime MatMulInteger 4096x1024 x 1024x4096, best of 5): {gemm_before:.0f} GOP/s; "
          "measured again between the engines' calls, each row is set against its pool's rate", flush=True)
    lengths = benchmark.pair_lengths(bundle, query, docs)
    spread = benchmark.length_summary(lengths)
    print(f"workload: {args.profile} passages, tokens per pair min {spread['min']} median {spread['median']:g} "
          f"p90 {spread['p90']} max {spread['max']}", flush=True)
    longer = sum(n > bundle.max_length for n in benchmark.pair_lengths(bundle, query, docs, truncate=False))
    if longer:
        print(f"  {longer} of {len(docs)} pairs are longer than max_length={bundle.max_length}: every engine "
              "truncates them (the lengths above are after truncation)", flush=True)
    results = benchmark.run(bundle, engines, args.pools, query, docs, repeats=args.repeats, threads=threads,
                            gemm=gemm, log=lambda line: print(line, flush=True))
    print()
    print(benchmark.format_table(results))
    rates = [r.gemm_gops for r in results if r.gemm_gops] or [gemm_before]
    if max(rates) > 1.3 * min(rates):
        # Ratios between engines hold (their calls are interleaved); absolute latencies do not.
        print(f"note: the machine's speed drifted during the run (int8 GEMM rate {min(rates):.0f}-{max(rates):.0f} "
              "GOP/s): compare engines within a pool, not latencies across runs", flush=True)
    if args.json:
        meta = {"model": str(bundle.path), "source": (bundle.manifest.get("source") or {}).get("model"),
                "profile": args.profile, "repeats": args.repeats, "pools": args.pools, "engines": engines,
                "skipped": [e for e in engines if e not in {r.engine for r in results}],
                "pair_tokens": spread, "int8_gemm_gops": gemm_before,
                "machine": machine}
        benchmark.save_json(results, args.json, meta)
        print(f"wrote {args.json}")
    if args.plot and results:
        try:
            benchmark.plot(results, args.plot, f"{bundle.path.name}, {args.profile} passages, "
                                               f"{threads} threads, {machine['cpu']}")
            print(f"wrote {args.plot}")
        except ImportError as error:
            print(f"crossrank bench: no plot ({error}; pip install matplotlib)", file=sys.stderr)
    return 0


def add_parser(commands) -> None:
    """Add ``crossrank bench`` to an argparse subparsers object."""
    bench = commands.add_parser("bench", help="latency and throughput per pool size")
    bench.add_argument("--model", type=Path, help="bundle folder (default: the embedded default model)")
    bench.add_argument("--pools", type=_int_list, default=[10, 50, 100, 200, 500, 1000])
    bench.add_argument("--compare", "--engines", dest="engines", metavar="ENGINES",
                       default="crossrank-int8,crossrank-fp32,ort-naive-int8,ort-naive-fp32",
                       help="comma-separated engines: crossrank-int8, crossrank-fp32, ort-naive-int8, "
                            "ort-naive-fp32, st-torch, st-onnx-int8, flashrank, fastembed; groups: "
                            "crossrank, ort-naive, peers, all. Peers that cannot load are skipped")
    bench.add_argument("--profile", default="msmarco", choices=list(workloads.WORKLOADS),
                       help="passages: msmarco-like or long prose (offline), or TREC DL 2020 BM25 pools (--data)")
    bench.add_argument("--data", type=Path, default=None, help="TREC DL 2020 folder for --profile trec-dl")
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--threads", type=int, default=None)
    bench.add_argument("--json", type=Path, default=None, help="write every row and the machine here")
    bench.add_argument("--plot", type=Path, default=None, help="PNG of latency vs pool size (needs matplotlib)")
    bench.set_defaults(run=_bench)
