"""``crossrank bench-serve``: a closed-loop load generator against ``crossrank serve``, Infinity and any
rerank server at ``--url`` (throughput, p50/p95/p99 latency, errors, fairness under mixed load)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from crossrank import workloads
from crossrank._validation import PRECISIONS
from crossrank.benchmark.load import KINDS
from crossrank.benchmark.serve_bench import SERVERS, ServeBenchSettings, bench_serve
from crossrank.cli._types import non_negative_int, number_in, output_file, positive_int, positive_int_list


def _servers(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS and name != "none"]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown server {unknown[0]!r}; choose from {', '.join(SERVERS)} or none")
    return [name for name in names if name != "none"]


def _run(args: argparse.Namespace) -> int:
    return bench_serve(ServeBenchSettings(
        bundle=args.bundle, servers=args.servers, url=args.url, kind=args.kind, api_key=args.api_key,
        concurrency=args.concurrency, pools=args.pools, requests=args.requests, seconds=args.seconds,
        warmup=args.warmup, mixed=args.mixed, mixed_requests=args.mixed_requests,
        inprocess_seconds=args.inprocess_seconds, threads=args.threads, precision=args.precision, serve_args=shlex.split(args.serve_args),
        tolerance=args.tolerance, check_every=args.check_every, variants=args.variants, profile=args.profile,
        json=args.json, plot=args.plot))


def add_parser(commands) -> argparse.ArgumentParser:
    """Add ``crossrank bench-serve`` to an argparse subparsers object (sets ``run`` to the command)."""
    d = ServeBenchSettings()
    p = commands.add_parser(
        "bench-serve", help="load-test rerank servers: pairs/s and p50/p95/p99 latency per concurrency and pool",
        description="C closed-loop clients each send a rerank request of POOL passages, wait for the answer and "
                    "send the next, until --requests or --seconds run out, for every C and POOL. Servers: "
                    "crossrank serve and Infinity, started here on 127.0.0.1 and stopped with SIGTERM, and/or "
                    "--url. Every answer is checked against Reranker.score_pairs of the same bundle.")
    p.add_argument("bundle", type=Path, nargs="?", default=None, help="bundle folder (default: the embedded model)")
    p.add_argument("--servers", type=_servers, default=list(SERVERS),
                   help=f"servers to start, comma-separated: {', '.join(SERVERS)}, or none (default: both)")
    p.add_argument("--url", default=None, help="also load a server already running here (e.g. http://host:8080)")
    p.add_argument("--kind", choices=KINDS, default=d.kind,
                   help="request shape for --url: cohere (POST /v1/rerank), tei or infinity (POST /rerank)")
    p.add_argument("--api-key", default=None, help="sent as 'Authorization: Bearer KEY' to --url")
    p.add_argument("--concurrency", type=positive_int_list("concurrency levels"), default=d.concurrency)
    p.add_argument("--pools", type=positive_int_list("pool sizes"), default=d.pools)
    p.add_argument("--requests", type=positive_int, default=d.requests, help="most timed requests per run")
    p.add_argument("--seconds", type=number_in(0.1), default=d.seconds,
                   help="no new request after this long in a run (in-flight ones finish)")
    p.add_argument("--warmup", type=non_negative_int, default=d.warmup, help="untimed requests before each run")
    p.add_argument("--mixed", type=non_negative_int, default=d.mixed,
                   help="fairness run: pool-10 latency under this many pool-100 clients, vs alone (0: skip)")
    p.add_argument("--mixed-requests", type=positive_int, default=d.mixed_requests,
                   help="pool-10 requests in each half of the fairness run")
    p.add_argument("--inprocess-seconds", type=number_in(0.0), default=d.inprocess_seconds,
                   help="time in-process Reranker.score_pairs this long first (0: skip)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="crossrank serve's and the in-process engine's threads (default: physical cores)")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="the rung crossrank serve and the in-process reference both run (default: the bundle's)")
    p.add_argument("--serve-args", default="",
                   help="more options for the crossrank serve it starts, e.g. '--max-queue-tokens 2000000'")
    p.add_argument("--tolerance", type=number_in(0.0), default=d.tolerance,
                   help="largest score difference from score_pairs counted as correct (crossrank, --url); "
                        "Infinity, another engine, only has its difference reported")
    p.add_argument("--check-every", type=positive_int, default=d.check_every,
                   help="check every N-th answer against the offline scores (default: all)")
    p.add_argument("--variants", type=positive_int, default=d.variants,
                   help="different (query, pool) requests per pool size, sent in turn")
    p.add_argument("--profile", choices=list(workloads.PROFILES), default=d.profile, help="offline passages")
    p.add_argument("--json", type=output_file, default=None, help="write the report here")
    p.add_argument("--plot", type=output_file, default=None, help="PNG of pairs/s and p99 vs C (needs matplotlib)")
    p.set_defaults(run=_run)
    return p
