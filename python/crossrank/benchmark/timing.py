"""Latency per pool size: crossrank against the engines users would otherwise pick.

Each engine scores one query against N candidate passages; after a warm-up call, every pool
size is timed ``repeats`` times, the engines' calls interleaved so that drift in the machine's
speed hits them alike (``run``). Every row carries median / min / max latency, pairs/s, real
tokens/s, padding waste, memory (what the engine keeps resident, and what one call adds on top),
and useful GOP/s: the arithmetic the model needs for the real
tokens (2 x linear parameters x tokens, plus 4·L²·hidden per layer and pair for attention),
divided by the latency. Set against the machine's int8 GEMM rate (``crossrank.benchmark.gemm_rate``)
it says how far each engine is from what the multipliers can do.

Engines: ``crossrank-int8/fp32`` (this package), ``ort-naive-int8/fp32`` (tokenizers +
onnxruntime, batches of 32 in arrival order: what most users write) and the optional peers of
``crossrank.benchmark.peers`` (sentence-transformers, FlashRank, FastEmbed).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from crossrank._system import physical_core_count
from crossrank.benchmark.engines import Engine, RungUnavailable
from crossrank.benchmark.flops import EncoderShape, bundle_shape, pair_lengths
from crossrank.benchmark.gemm_rate import Int8GemmProbe
from crossrank.benchmark.registry import ENGINES, expand_engines, is_peer
from crossrank.bundle import Bundle

Log = Callable[[str], None]


@dataclass
class Measurement:
    """One engine at one pool size: latency, throughput, padding, arithmetic rate and memory."""

    engine: str
    pool: int
    median_s: float
    min_s: float
    max_s: float
    pairs_per_s: float
    padding_fraction: float | None = None
    real_tokens: int = 0
    tokens_per_s: float = 0.0
    useful_gops: float = 0.0  # useful giga-operations per second at the median latency
    gemm_fraction: float | None = None  # useful_gops / gemm_gops
    gemm_gops: float | None = None  # the machine's int8 GEMM rate, measured while this pool was timed
    model_mb: float | None = None  # resident memory the engine added when it loaded and warmed up
    scoring_mb: float | None = None  # peak resident memory a call added on top of what was resident


@dataclass
class _PoolTimes:
    """What the timed calls of one pool measured, per engine, and the GEMM rate between them."""

    seconds: dict[str, list[float]]
    scoring_mb: dict[str, float | None]
    gemm_gops: float | None


def percent(value: float | None) -> str:
    """VALUE as a percentage with one decimal, ``-`` for None."""
    return f"{value:.1%}" if value is not None else "-"


def _reset_peak_rss() -> None:
    # Linux resets VmHWM (the peak RSS) to the current RSS on writing 5 to clear_refs.
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _rss_mb(field: str) -> float | None:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process in MiB; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# Pause before each timed call so the previous engine's spinning worker threads (ONNX Runtime's
# pool, PyTorch's OpenMP) have gone to sleep and do not steal cycles from the next one.
_SETTLE_S = 0.05


def run(bundle: Bundle, engines: Sequence[str], pools: Sequence[int], query: str, docs: Sequence[str], *,
        repeats: int = 3, threads: int | None = None, gemm: Int8GemmProbe | None = None,
        log: Log = print) -> list[Measurement]:
    """Time every engine at every pool size on QUERY and the first POOL of DOCS; one row per pair.

    All engines are loaded first and their timed calls interleaved: each repetition runs every
    engine once, in an order rotated by one per repetition. A machine whose speed drifts (shared
    cores, turbo) then slows every engine alike, so the ratios between engines hold even when the
    absolute latencies move. Engines whose package is missing or that cannot load the model are
    skipped with the reason logged. GEMM, a probe of the machine's int8 GEMM rate, is measured
    once per repetition alongside the engines; each row's ``gemm_fraction`` is set against the
    median rate measured while its pool was timed.

    Args:
        bundle: the model every engine loads.
        engines: engine and group names (:func:`~crossrank.benchmark.registry.expand_engines`).
        pools: pool sizes, each at most ``len(docs)``.
        query: the query of every pair.
        docs: the candidate passages, in arrival order.
        repeats: timed calls per engine and pool.
        threads: threads per engine (default: the physical cores).
        gemm: the int8 GEMM probe measured between the engines' calls (None: no ceiling).
        log: where progress lines go.

    Returns:
        One Measurement per pool and loaded engine, pools in the order given.

    Raises:
        ValueError: on an unknown engine name.
    """
    names = expand_engines(engines)
    threads = threads or physical_core_count()
    docs = list(docs)
    lengths = pair_lengths(bundle, query, docs)
    shape = bundle_shape(bundle)
    loaded, model_mb = _load_engines(bundle, names, threads, query, docs[: min(pools)], log)
    results = []
    for pool in pools:
        timed = _time_pool(loaded, pool, query, docs[:pool], repeats, gemm, log)
        results += _rows(loaded, pool, timed, lengths[:pool], shape, model_mb, log)
    return results


def _load_engines(bundle: Bundle, names: list[str], threads: int, query: str, warmup_docs: list[str],
                  log: Log) -> tuple[dict[str, Engine], dict[str, float | None]]:
    """Load and warm up each engine that can run; returns them and the memory each kept resident."""
    loaded: dict[str, Engine] = {}
    model_mb: dict[str, float | None] = {}
    for name in names:
        log(f"{name}: loading")
        before = _rss_mb("VmRSS")
        engine = _load_engine(name, bundle, threads, log)
        if engine is None:
            continue
        loaded[name] = engine
        engine[0](query, warmup_docs)  # warm-up: first run allocates and plans
        after = _rss_mb("VmRSS")
        model_mb[name] = after - before if before is not None and after is not None else None
    return loaded, model_mb


def _load_engine(name: str, bundle: Bundle, threads: int, log: Log) -> Engine | None:
    """ENGINES[NAME] loaded, or None with the reason logged when its package is missing or a
    peer cannot load the model."""
    try:
        return ENGINES[name](bundle, threads)
    except ImportError as error:
        log(f"{name}: skipped, a package is missing ({error})")
        return None
    except RungUnavailable as error:
        log(f"{name}: skipped, {error}")
        return None
    except Exception as error:  # noqa: BLE001
        if not is_peer(name):
            raise
        # Third-party loaders fail in many ways (missing files, export errors, version clashes):
        # a peer that cannot load is reported, never the end of the run.
        log(f"{name}: skipped, cannot load the model ({type(error).__name__}: {error})")
        return None


def _time_pool(loaded: dict[str, Engine], pool: int, query: str, docs: list[str], repeats: int,
               gemm: Int8GemmProbe | None, log: Log) -> _PoolTimes:
    """REPEATS rounds of one call per engine on DOCS, the order rotated by one per round, the
    GEMM rate measured after each round."""
    timed = _PoolTimes({name: [] for name in loaded}, dict.fromkeys(loaded), None)
    rates: list[float] = []
    order = list(loaded)
    started = time.perf_counter()
    for repeat in range(repeats):
        if repeat:  # a pool of 1000 takes minutes per repetition over all engines: show progress
            log(f"pool {pool}: repetition {repeat + 1}/{repeats} ({time.perf_counter() - started:.0f} s so far)")
        shift = repeat % len(order) if order else 0
        for name in order[shift:] + order[:shift]:
            seconds, added_mb = _timed_call(loaded[name], query, docs)
            timed.seconds[name].append(seconds)
            if added_mb is not None:
                timed.scoring_mb[name] = max(timed.scoring_mb[name] or 0.0, added_mb)
        if gemm is not None:
            time.sleep(_SETTLE_S)
            rates.append(gemm.measure())
    timed.gemm_gops = statistics.median(rates) if rates else None
    if timed.gemm_gops:
        log(f"pool {pool}: int8 GEMM rate {timed.gemm_gops:.0f} GOP/s (median of {len(rates)}, measured between "
            "the engines' calls)")
    return timed


def _timed_call(engine: Engine, query: str, docs: list[str]) -> tuple[float, float | None]:
    """(seconds, peak resident MiB the call added; None off Linux) of one settled call."""
    time.sleep(_SETTLE_S)
    resident = _rss_mb("VmRSS")
    _reset_peak_rss()
    start = time.perf_counter()
    engine[0](query, docs)
    seconds = time.perf_counter() - start
    peak = _rss_mb("VmHWM")
    return seconds, peak - resident if resident is not None and peak is not None else None


def _rows(loaded: dict[str, Engine], pool: int, timed: _PoolTimes, lengths: list[int], shape: EncoderShape,
          model_mb: dict[str, float | None], log: Log) -> list[Measurement]:
    """One logged Measurement per engine for a timed pool whose pairs have LENGTHS."""
    real = sum(lengths)
    ops = shape.operations(lengths)
    gemm_gops = timed.gemm_gops
    rows = []
    for name, engine in loaded.items():
        times = timed.seconds[name]
        median = statistics.median(times)
        gops = ops / median / 1e9
        row = Measurement(name, pool, median, min(times), max(times), pool / median,
                          engine[1](lengths), real, real / median, gops,
                          gops / gemm_gops if gemm_gops else None, gemm_gops, model_mb[name],
                          timed.scoring_mb[name])
        log(f"{name:>16}  pool {pool:>5}  median {median * 1e3:9.1f} ms  {row.pairs_per_s:8.1f} pairs/s"
            f"  padding {percent(row.padding_fraction):>6}  {gops:6.1f} GOP/s"
            + (f" ({row.gemm_fraction:5.1%} of int8 GEMM)" if gemm_gops else ""))
        rows.append(row)
    return rows
