"""``crossrank bench-serve``, step by step: the workload and its offline scores, the in-process
``score_pairs`` throughput, then for each server (started here, or already running at ``--url``) a
closed-loop run per (concurrency, pool) and the mixed-load fairness run, then the report.
"""

from __future__ import annotations

import gc
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from crossrank import workloads
from crossrank.benchmark.load import INFINITY, KINDS, Body, Target, closed_loop, encode_body, mixed_load
from crossrank.benchmark.machine import machine_info
from crossrank.benchmark.peers import PeerUnavailable
from crossrank.benchmark.serve_report import format_report, plot_report, require_matplotlib, save_json
from crossrank.benchmark.servers import start_crossrank, start_infinity
from crossrank.bundle import Bundle
from crossrank.default_model import default_model
from crossrank.reranker import Reranker

SERVERS = ("crossrank", INFINITY)
MIXED_SMALL, MIXED_LARGE = 10, 100


@dataclass
class ServeBenchSettings:
    """What ``crossrank bench-serve`` runs; see ``crossrank bench-serve --help`` for each field."""

    bundle: Path | None = None
    servers: list[str] = field(default_factory=lambda: list(SERVERS))
    url: str | None = None
    kind: str = "cohere"
    api_key: str | None = None
    concurrency: list[int] = field(default_factory=lambda: [1, 4, 16, 64])
    pools: list[int] = field(default_factory=lambda: [10, 100])
    requests: int = 200
    seconds: float = 30.0
    warmup: int = 4
    mixed: int = 16
    mixed_requests: int = 50
    inprocess_seconds: float = 10.0
    threads: int | None = None
    precision: str | None = None
    serve_args: list[str] = field(default_factory=list)
    tolerance: float = 1e-5
    check_every: int = 1
    variants: int = 4
    profile: str = "msmarco"
    json: Path | None = None
    plot: Path | None = None
    log: object = print


def _pool_texts(settings: ServeBenchSettings) -> dict[int, list[tuple[str, list[str]]]]:
    """VARIANTS (query, passages) per pool size the run needs (the mixed run's two sizes included)."""
    sizes = set(settings.pools) | ({MIXED_SMALL, MIXED_LARGE} if settings.mixed else set())
    return {size: [(workloads.query(v), workloads.passages(size, settings.profile, seed=v))
                   for v in range(settings.variants)] for size in sorted(sizes)}


def _offline(reranker: Reranker, texts: dict) -> dict[int, list]:
    """The offline scores of every (query, passages) variant: what each answer is checked against."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {size: [reranker.score_pairs([(q, d) for d in docs]) for q, docs in variants]
                for size, variants in texts.items()}


def inprocess_throughput(reranker: Reranker, texts: list[tuple[str, list[str]]], seconds: float) -> dict:
    """Pairs/s of ``Reranker.score_pairs`` on these pools, called back to back for SECONDS (after one
    untimed call): the ceiling a server of the same bundle and threads can approach."""
    pairs = [[(q, d) for d in docs] for q, docs in texts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reranker.score_pairs(pairs[0])
        done, calls, start = 0, 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - start < seconds:
            done += len(pairs[calls % len(pairs)])
            reranker.score_pairs(pairs[calls % len(pairs)])
            calls += 1
    wall = time.perf_counter() - start
    return {"pool": len(pairs[0]), "calls": calls, "pairs_per_s": round(done / wall, 1), "wall_s": round(wall, 2)}


def _bodies(kind: str, model: str, texts: dict, offline: dict) -> dict[int, list[Body]]:
    return {size: [Body(encode_body(kind, q, docs, model), expected) for (q, docs), expected in
                   zip(variants, offline[size])] for size, variants in texts.items()}


def load_server(target: Target, texts: dict, offline: dict, settings: ServeBenchSettings) -> dict:
    """Every (concurrency, pool) run and the mixed run against one ready server."""
    bodies = _bodies(target.kind, target.model, texts, offline)
    runs = []
    for pool in settings.pools:
        for concurrency in settings.concurrency:
            result = closed_loop(target, bodies[pool], concurrency, requests=settings.requests,
                                 seconds=settings.seconds, warmup=settings.warmup, check_every=settings.check_every)
            runs.append(result.summary())
            settings.log(f"  {target.name}: C={concurrency} pool={pool}: {runs[-1]['pairs_per_s']} pairs/s, "
                         f"p99 {runs[-1]['p99_ms']} ms, {runs[-1]['errors']} errors")
    return {"name": target.name, "url": target.url, "kind": target.kind, "runs": runs,
            "mixed": _mixed(target, bodies, settings) if settings.mixed else None}


def _mixed(target: Target, bodies: dict, settings: ServeBenchSettings) -> dict:
    small, large = bodies[MIXED_SMALL], bodies[MIXED_LARGE]
    alone = closed_loop(target, small, 1, requests=settings.mixed_requests, seconds=settings.seconds,
                        warmup=settings.warmup, check_every=settings.check_every).summary()
    probe, load = mixed_load(target, small, large, settings.mixed, requests=settings.mixed_requests,
                             seconds=settings.seconds, check_every=settings.check_every)
    loaded = probe.summary()
    ratio = round(loaded["p99_ms"] / alone["p99_ms"], 2) if loaded["p99_ms"] and alone["p99_ms"] else None
    settings.log(f"  {target.name}: pool-{MIXED_SMALL} p99 {alone['p99_ms']} ms alone, {loaded['p99_ms']} ms "
                 f"under {settings.mixed} pool-{MIXED_LARGE} clients ({ratio}x)")
    return {"background_concurrency": settings.mixed, "small_pool": MIXED_SMALL, "large_pool": MIXED_LARGE,
            "alone": alone, "loaded": loaded, "background": load.summary(), "p99_ratio": ratio}


def _start(name: str, bundle: Bundle, settings: ServeBenchSettings):
    if name == "crossrank":
        precision = ["--precision", settings.precision] if settings.precision else []
        process, target = start_crossrank(bundle.path, settings.threads, [*precision, *settings.serve_args])
        target.tolerance = settings.tolerance
        return process, target
    if name == INFINITY:
        return start_infinity(bundle)  # another engine: its score differences are reported, not failed
    raise ValueError(f"servers: unknown server {name!r}; choose from {', '.join(SERVERS)}")


def _run_started(name: str, bundle: Bundle, texts: dict, offline: dict, settings: ServeBenchSettings) -> dict:
    """Start server NAME, load it, stop it; a server that cannot start is reported, not fatal."""
    settings.log(f"starting {name} ...")
    try:
        process, target = _start(name, bundle, settings)
    except (PeerUnavailable, ImportError, OSError) as error:
        return {"name": name, "unavailable": str(error)}
    try:
        process.wait_ready()
        result = load_server(target, texts, offline, settings)
    except RuntimeError as error:
        return {"name": name, "unavailable": str(error)}
    finally:
        status = process.stop()
    return {**result, "exit_status": status}


def bench_serve(settings: ServeBenchSettings) -> int:
    """Run the whole benchmark, print the table, write ``--json`` / ``--plot``; returns 0."""
    if settings.plot:
        require_matplotlib()  # before the run, not after it
    report = run_bench_serve(settings)
    settings.log(format_report(report))
    if settings.json:
        save_json(report, settings.json)
    if settings.plot:
        plot_report(report, settings.plot)
    return 0


def _require_client() -> None:
    """The load generator's HTTP client is httpx; say how to get it before anything starts."""
    try:
        import httpx  # noqa: F401
    except ImportError as error:
        raise ImportError(f"crossrank bench-serve needs httpx: pip install 'crossrank[bench]' ({error})") from None


def run_bench_serve(settings: ServeBenchSettings) -> dict:
    """The benchmark as a JSON-ready report (see :func:`bench_serve`)."""
    if settings.kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {settings.kind!r}")
    _require_client()
    bundle = Bundle.load(settings.bundle or default_model())
    texts = _pool_texts(settings)
    reranker = Reranker(bundle.path, threads=settings.threads, precision=settings.precision)
    offline = _offline(reranker, texts)
    inprocess = None
    if settings.inprocess_seconds:
        inprocess = inprocess_throughput(reranker, texts[max(settings.pools)], settings.inprocess_seconds)
        settings.log(f"in-process score_pairs: {inprocess['pairs_per_s']} pairs/s at pool {inprocess['pool']}")
    threads, precision = reranker.threads, reranker.precision
    del reranker
    gc.collect()
    servers = [_run_started(name, bundle, texts, offline, settings) for name in settings.servers]
    if settings.url:
        headers = {"authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        target = Target("url", settings.url.rstrip("/"), settings.kind, tolerance=settings.tolerance, headers=headers)
        servers.append(load_server(target, texts, offline, settings))
    return {"bundle": str(bundle.path), "precision": precision, "profile": settings.profile, "inprocess": inprocess,
            "servers": servers,
            "settings": {"requests": settings.requests, "seconds": settings.seconds, "warmup": settings.warmup,
                         "check_every": settings.check_every, "tolerance": settings.tolerance},
            "machine": machine_info(threads)}
