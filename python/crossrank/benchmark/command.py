"""What ``crossrank bench`` does, step by step, printing as it goes.

Check the engine names and the workload, load the bundle, report the machine and its int8 GEMM
rate, describe the workload's pair lengths, time every engine (:func:`~crossrank.benchmark.timing.run`),
print the table, and write the JSON and the plot when asked.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from crossrank import workloads
from crossrank._system import physical_core_count
from crossrank.benchmark.flops import length_summary, pair_lengths
from crossrank.benchmark.gemm_rate import Int8GemmProbe
from crossrank.benchmark.machine import machine_info
from crossrank.benchmark.registry import expand_engines
from crossrank.benchmark.report import format_table, plot, save_json
from crossrank.benchmark.timing import Measurement, run
from crossrank.bundle import Bundle, checksums_wanted
from crossrank.default_model import default_model
from crossrank.tokenizer import Tokenizer


@dataclass(frozen=True)
class BenchSettings:
    """The command line's choices for one ``crossrank bench`` run."""

    model: Path | None  # bundle folder; None: the embedded default model
    pools: list[int]
    engines: list[str]  # engine and group names, as given
    profile: str  # a workload of crossrank.workloads.WORKLOADS
    data: Path | None  # the TREC DL 2020 folder for the trec-dl workload
    repeats: int
    threads: int | None  # None: the physical cores
    json: Path | None = None
    plot: Path | None = None


@dataclass(frozen=True)
class _Context:
    """What the run was measured on: the bundle, threads, machine, GEMM ceiling and workload."""

    bundle: Bundle
    threads: int
    machine: dict
    gemm: Int8GemmProbe
    gemm_before: float
    pair_tokens: dict[str, float]


def _say(line: str = "") -> None:
    print(line, flush=True)


def bench(settings: BenchSettings) -> int:
    """Run ``crossrank bench`` with SETTINGS, printing progress, the table and what was written.

    Args:
        settings: the command line's choices.

    Returns:
        The exit status (0).

    Raises:
        ValueError: on an unknown engine or a workload that cannot be built.
        FileNotFoundError: when the bundle or the data folder is missing.
    """
    # Checked first: an unknown name or a missing data folder should fail before the default model is built.
    engines = expand_engines(settings.engines)
    query, docs = workloads.pool(settings.profile, max(settings.pools), settings.data)
    context = _prepare(settings, query, docs)
    results = run(context.bundle, engines, settings.pools, query, docs, repeats=settings.repeats,
                  threads=context.threads, gemm=context.gemm, log=_say)
    _say()
    _say(format_table(results))
    _warn_on_drift(results, context.gemm_before)
    if settings.json:
        save_json(results, settings.json, _meta(settings, context, engines, results))
        print(f"wrote {settings.json}")
    if settings.plot and results:
        _draw_plot(results, settings, context)
    return 0


def _prepare(settings: BenchSettings, query: str, docs: list[str]) -> _Context:
    """Load the bundle and print the header lines: model, machine, GEMM rate, workload."""
    bundle = _load_bundle(settings.model)
    _check_bundle(bundle)
    threads = settings.threads or physical_core_count()
    machine = machine_info(threads)
    _say(f"machine: {machine['cpu']}, {threads} threads, {' '.join(machine['cpu_features'])}")
    gemm = Int8GemmProbe(threads)
    gemm_before = gemm.measure(5)
    _say(f"int8 GEMM rate (ONNX Runtime MatMulInteger 4096x1024 x 1024x4096, best of 5): {gemm_before:.0f} GOP/s; "
         "measured again between the engines' calls, each row is set against its pool's rate")
    pair_tokens = _describe_workload(bundle, settings.profile, query, docs)
    return _Context(bundle, threads, machine, gemm, gemm_before, pair_tokens)


def _load_bundle(model: Path | None) -> Bundle:
    """The bundle at MODEL, or the embedded default model (said so) when MODEL is None."""
    if model is not None:
        return Bundle.load(model)
    _say("model: embedded default (MiniLM-L6 encoder, untrained seeded head: its scores carry no "
         "relevance; its speed is cross-encoder/ms-marco-MiniLM-L-6-v2's)")
    return Bundle.load(default_model())


def _check_bundle(bundle: Bundle) -> None:
    """Check BUNDLE's files against their checksums and load its tokenizer (format, ids against the
    graph) before anything is timed: a broken bundle fails in one line here, not after the GEMM probe.
    The engines' loads later find the files already hashed."""
    if checksums_wanted(None):
        bundle.verify_checksums([bundle.path / name for name in bundle.checksums if (bundle.path / name).is_file()])
    tokenizer = Tokenizer.from_file(bundle.tokenizer_file)
    if tokenizer.max_token_id is not None:
        graph = next(f for f in bundle.model_files.values() if f.is_file())  # Bundle.load made sure of one
        bundle.check_token_ids(tokenizer.max_token_id, graph)


def _describe_workload(bundle: Bundle, profile: str, query: str, docs: list[str]) -> dict[str, float]:
    """Print the spread of the pairs' token counts and how many get truncated; returns the spread."""
    spread = length_summary(pair_lengths(bundle, query, docs))
    _say(f"workload: {profile} passages, tokens per pair min {spread['min']} median {spread['median']:g} "
         f"p90 {spread['p90']} max {spread['max']}")
    longer = sum(n > bundle.max_length for n in pair_lengths(bundle, query, docs, truncate=False))
    if longer:
        _say(f"  {longer} of {len(docs)} pairs are longer than max_length={bundle.max_length}: every engine "
             "truncates them (the lengths above are after truncation)")
    return spread


def _warn_on_drift(results: list[Measurement], gemm_before: float) -> None:
    rates = [r.gemm_gops for r in results if r.gemm_gops] or [gemm_before]
    if max(rates) > 1.3 * min(rates):
        # Ratios between engines hold (their calls are interleaved); absolute latencies do not.
        _say(f"note: the machine's speed drifted during the run (int8 GEMM rate {min(rates):.0f}-{max(rates):.0f} "
             "GOP/s): compare engines within a pool, not latencies across runs")


def _meta(settings: BenchSettings, context: _Context, engines: list[str], results: list[Measurement]) -> dict:
    """The JSON report's ``meta``: what was run, on which model, workload and machine."""
    bundle = context.bundle
    return {"model": str(bundle.path), "source": (bundle.manifest.get("source") or {}).get("model"),
            "profile": settings.profile, "repeats": settings.repeats, "pools": settings.pools, "engines": engines,
            "skipped": [e for e in engines if e not in {r.engine for r in results}],
            "pair_tokens": context.pair_tokens, "int8_gemm_gops": context.gemm_before,
            "machine": context.machine}


def _draw_plot(results: list[Measurement], settings: BenchSettings, context: _Context) -> None:
    """The latency plot at ``settings.plot``; without matplotlib, a note on stderr instead."""
    try:
        plot(results, settings.plot, f"{context.bundle.path.name}, {settings.profile} passages, "
                                     f"{context.threads} threads, {context.machine['cpu']}")
        print(f"wrote {settings.plot}")
    except ImportError as error:
        print(f"crossrank bench: no plot ({error}; pip install matplotlib)", file=sys.stderr)
