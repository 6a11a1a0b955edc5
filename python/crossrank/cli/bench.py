"""``crossrank bench``: latency per pool size against the engines users would otherwise pick."""

from __future__ import annotations

import argparse
from pathlib import Path

from crossrank import workloads
from crossrank.benchmark.command import BenchSettings, bench
from crossrank.cli._types import output_file, positive_int, positive_int_list


def _bench(args: argparse.Namespace) -> int:
    return bench(BenchSettings(
        model=args.model, pools=args.pools, engines=[e.strip() for e in args.engines.split(",") if e.strip()],
        profile=args.profile, data=args.data, repeats=args.repeats, threads=args.threads, json=args.json,
        plot=args.plot))


def add_parser(commands) -> None:
    """Add ``crossrank bench`` to an argparse subparsers object."""
    parser = commands.add_parser("bench", help="latency and throughput per pool size")
    parser.add_argument("--model", type=Path, help="bundle folder (default: the embedded default model)")
    parser.add_argument("--pools", type=positive_int_list("pool sizes"), default=[10, 50, 100, 200, 500, 1000])
    parser.add_argument("--compare", "--engines", dest="engines", metavar="ENGINES",
                        default="crossrank-int8,crossrank-fp32,ort-naive-int8,ort-naive-fp32",
                        help="comma-separated engines: crossrank-int8, crossrank-fp32, crossrank-int8-static, "
                             "crossrank-int8-token, crossrank-bf16, ort-naive-int8, "
                             "ort-naive-fp32, st-torch, st-onnx-int8, flashrank, fastembed; groups: "
                             "crossrank, ort-naive, peers, all. Peers that cannot load, and rungs the bundle or CPU lacks, are skipped")
    parser.add_argument("--profile", default="msmarco", choices=list(workloads.WORKLOADS),
                        help="passages: msmarco-like or long prose (offline), or TREC DL 2020 BM25 pools (--data)")
    parser.add_argument("--data", type=Path, default=None, help="TREC DL 2020 folder for --profile trec-dl")
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--threads", type=positive_int, default=None, help="threads per engine (default: cores)")
    parser.add_argument("--json", type=output_file, default=None, help="write every row and the machine here")
    parser.add_argument("--plot", type=output_file, default=None,
                        help="PNG of latency vs pool size (needs matplotlib)")
    parser.set_defaults(run=_bench)
