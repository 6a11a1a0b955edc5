"""The precision rungs of a bundle, and the choice of the fastest one the quality gate accepts.

Rungs, fastest first (crossrank._validation.PRECISIONS): ``int8_static`` (activation scales
calibrated at export, :mod:`crossrank.export.static_int8`), ``int8`` (dynamic activation scales, maybe
mixed with fp32 groups by :class:`crossrank.export.gate.Gate`), the kernel rungs ``int8_token`` and
``bf16`` (CPUs with AVX512-VNNI / AVX512-BF16 only, :mod:`crossrank.export.kernel_rungs`), ``fp32``
(the reference, always acceptable). Each rung's agreement with fp32 is measured on the gate's pool sets and its speed on
this machine, through crossrank's engine as a Reranker would run it (engine graphs included), on the
same pairs, the rungs interleaved; the bundle's default is the fastest rung that passes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._validation import PRECISIONS
from crossrank.beir import read_beir
from crossrank.bundle import INT8_STATIC_FILE, TOKENIZER_FILE
from crossrank.export.fidelity import Pool, compare, eval_pools, make_scorer, score_pools
from crossrank.export.gate import GateThresholds, PoolSet
from crossrank.export.sensitivity import centered_error
from crossrank.export.static_int8 import PairReader, calibration_pairs
from crossrank.export.static_search import StaticSearch, finish, run_search
from crossrank.reranker import Reranker

# Pools of each gated set the static search scores each candidate graph on.
PROXY_POOLS = 10
SPEED_PAIRS = 48  # pairs timed per rung and repetition
# The histogram calibration methods need one shape for every run: pairs padded to this many tokens.
HISTOGRAM_LENGTH = 128


def calibration_source(calibration_dir: str | Path | None, gate_sets: Sequence[PoolSet], *,
                       queries: int = 20, depth: int = 10) -> tuple[list[Pool], dict[str, Any]]:
    """The pools static int8 is calibrated on: BM25 pools over CALIBRATION_DIR (a BEIR folder) when
    given, else the gate's own pool sets. Returns (pools, what report.json says about them)."""
    if calibration_dir is not None:
        pools, _, info = eval_pools(calibration_dir, depth=depth, max_queries=queries)
        return pools, {"source": "calibration folder", **info}
    pools = [p for ps in gate_sets for p in ps.pools]
    return pools, {"source": "the gate's pool sets", "sets": [ps.name for ps in gate_sets]}


def check_calibration_dir(calibration_dir: str | Path | None) -> None:
    """Fail early on a CALIBRATION_DIR that is not a BEIR folder."""
    if calibration_dir is not None:
        read_beir(calibration_dir)


def _proxy_error(folder: Path, sets: Sequence[PoolSet], gate_sets: Sequence[str]) -> Callable[[Path], float]:
    """A graph's score error against fp32 (centered_error) on the first PROXY_POOLS pools of each
    gated pool set: the static search's measure."""
    chosen = [ps for ps in sets if ps.name in gate_sets and ps.reference is not None]

    def score_error(path: Path) -> float:
        scorer = make_scorer(folder, path, precision="int8_static")
        ref, test = [], []
        for ps in chosen:
            ref += list(ps.reference[:PROXY_POOLS])
            test += score_pools(scorer, ps.pools[:PROXY_POOLS])
        return centered_error(ref, test)

    return score_error


def rung_agreement(folder: Path, path: Path, sets: Sequence[PoolSet], thresholds: GateThresholds,
                   gate_sets: Sequence[str], *, precision: str = "int8_static") -> dict[str, Any]:
    """The graph PATH (rung PRECISION of the bundle FOLDER) against fp32 on SETS (their reference
    scores set): metrics per set, and whether THRESHOLDS pass on GATE_SETS."""
    scorer = make_scorer(folder, path, precision=precision)
    metrics = {ps.name: compare(ps.reference, score_pools(scorer, ps.pools), ps.pools, qrels=ps.qrels)
               for ps in sets}
    passed, reasons = thresholds.check({k: v for k, v in metrics.items() if k in gate_sets})
    return {"metrics": metrics, "passed": passed, "failed_because": reasons}


def build_static_rung(folder: Path, fp32: Path, sets: Sequence[PoolSet], thresholds: GateThresholds,
                      gate_sets: Sequence[str], calibration: tuple[list[Pool], dict[str, Any]], *,
                      max_length: int, input_names: Sequence[str], calibration_limit: int = 200,
                      search: StaticSearch = StaticSearch(),
                      say: Callable[[str], None] = print) -> dict[str, Any]:
    """Write FOLDER/model.int8_static.onnx, chosen by :func:`crossrank.export.static_search.run_search`
    (attention split, smoothing alpha, sensitive MatMuls kept fp32) on the gated pool sets, and
    measure it against fp32 on SETS (their reference scores already set).

    Returns:
        report.json's "int8_static" entry: calibration, the search (every try, the sensitivity,
        seconds per step), the variant kept with its agreement.
    """
    pools, info = calibration
    pairs = calibration_pairs(pools, calibration_limit)
    reader = PairReader(folder / TOKENIZER_FILE, pairs, max_length=max_length, input_names=input_names,
                        pad_to=None if search.method == "MinMax" else HISTOGRAM_LENGTH)
    work = Path(tempfile.mkdtemp(prefix=".static-", dir=folder))
    try:
        chosen, record = run_search(fp32, work, reader, search, _proxy_error(folder, sets, gate_sets), say)
        quantization = finish(chosen, folder / INT8_STATIC_FILE, search.absorb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    v = {"name": f"int8 static ({chosen.name})", "quantization": quantization, "chosen": True,
         **rung_agreement(folder, folder / INT8_STATIC_FILE, sets, thresholds, gate_sets)}
    m = v["metrics"][gate_sets[0]]
    say(f"  {v['name']}: top-10 overlap {m['top10_overlap']:.3f}, Kendall tau {m['kendall_tau']:.3f}"
        + (" — passes" if v["passed"] else ""))
    return {"calibration": {**info, "pairs": len(pairs), "method": search.method}, "search": record,
            "variants": [v], "chosen": v["name"], "passed": v["passed"], "quantization": quantization}


def measure_speeds(folder: Path, precisions: Sequence[str], pairs: Sequence[tuple[str, str]], *,
                   repeats: int = 3, threads: int | None = None) -> dict[str, float]:
    """Median seconds per call of scoring PAIRS with each of PRECISIONS of the bundle FOLDER, the
    rungs loaded first and timed interleaved (rotated order) so drift hits them alike."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rerankers = {p: Reranker(folder, precision=p, threads=threads, verify_checksums=False)
                     for p in precisions}
        for r in rerankers.values():
            r.score_pairs(pairs[:4], show_progress=False)  # warm-up
        times: dict[str, list[float]] = {p: [] for p in precisions}
        for rep in range(repeats):
            order = list(precisions[rep % len(precisions):]) + list(precisions[:rep % len(precisions)])
            for p in order:
                t0 = time.perf_counter()
                rerankers[p].score_pairs(list(pairs), show_progress=False)
                times[p].append(time.perf_counter() - t0)
    return {p: float(np.median(t)) for p, t in times.items()}


def choose_rung(rungs: dict[str, dict[str, Any]]) -> str:
    """The fastest rung that passed (fp32 when none did); RUNGS maps a precision to
    ``{"passed": bool, "seconds": float | None}``, rungs without a time ordered as PRECISIONS."""
    passing = [p for p in PRECISIONS if p in rungs and rungs[p].get("passed")]
    if not passing:
        return "fp32"
    timed = [p for p in passing if rungs[p].get("seconds") is not None]
    if not timed:
        return passing[0]
    return min(timed, key=lambda p: rungs[p]["seconds"])


def rung_table(folder: Path, available: Sequence[str], passed: dict[str, bool], agreement: dict[str, Any],
               pairs: Sequence[tuple[str, str]], *, threads: int | None = None) -> dict[str, Any]:
    """report.json's "rungs": each available rung's agreement, speed on this machine and pass,
    and the choice."""
    seconds = measure_speeds(folder, available, pairs, threads=threads)
    fp32 = seconds.get("fp32")
    rungs = {p: {"passed": passed[p], "seconds": round(seconds[p], 4),
                 "pairs_per_s": round(len(pairs) / seconds[p], 1) if seconds[p] > 0 else None,
                 "speedup_vs_fp32": round(fp32 / seconds[p], 3) if fp32 and seconds[p] > 0 else None,
                 "agreement": agreement.get(p)} for p in available}
    return {"order": [p for p in PRECISIONS if p in available], "pairs": len(pairs), "repeats": 3,
            "speed_note": "median seconds of one score_pairs call over the same pairs, rungs interleaved, "
                          "on the exporting machine: compare the rungs side by side, not across machines",
            "rungs": rungs, "chosen": choose_rung(rungs)}


def format_rungs(report: dict[str, Any]) -> str:
    """Lines for the export's table: the static int8 variants and every rung's speed and pass."""
    lines = []
    static = report.get("int8_static") or {}
    for note in (static.get("skipped"), (report.get("rungs") or {}).get("skipped")):
        if note:
            lines.append(note)
    for v in static.get("variants", []):
        label = v["name"] + (" *" if v.get("chosen") else "")
        cells = [f"{s} top-10 {m['top10_overlap']:.3f} tau {m['kendall_tau']:.3f}"
                 + (f" nDCG drop {m['ndcg@10_drop_points']:+.2f}" if "ndcg@10_drop_points" in m else "")
                 for s, m in v["metrics"].items()]
        lines.append(f"{label:<34} " + "; ".join(cells))
    table = report.get("rungs") or {}
    if table.get("skipped"):
        return "\n".join(lines)
    for p, r in (table.get("rungs") or {}).items():
        lines.append(f"rung {p:<12} {'passes' if r['passed'] else 'fails ':<6} {r['pairs_per_s']:>8} pairs/s "
                     f"({r['speedup_vs_fp32']:.2f}x fp32)")
    if table:
        lines.append(f"default precision: {table['chosen']}" + ("" if table.get("applied") else
                                                             " (gate off: not applied)"))
    return "\n".join(lines)
