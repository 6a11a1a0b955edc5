"""The static int8 rung's search: which graph to quantize, how to smooth it, which MatMuls stay fp32.

Run by :func:`crossrank.export.rungs.build_static_rung`, on the gate's own pools and calibration
pairs only (never on data the export was not given):

1. **Split attention** (:mod:`crossrank.export.attention_split`): the QKV projections become plain
   MatMuls, so they are statically quantized too (speed: on minilm-l6-ce-distilled static int8 went
   from 2.2x to 3.2x fp32, the dynamic mixed rung's speed).
2. **Smoothing** (:mod:`crossrank.export.smoothquant`): for each alpha of ``alphas`` the graph is
   smoothed, calibrated and quantized, and its score error against fp32 on the gate's pools
   (:func:`crossrank.export.sensitivity.centered_error`) measured; the alpha with the least error
   is kept (``None``: no smoothing). The attention output projections take ``1/s`` through V (free);
   the MatMuls named by ``mul_markers`` (the LayerNorm-fed FFN input and QKV projections) through a
   Mul node, one element-wise pass each: their own score error fell 2-3x. Folding that Mul into a
   per-channel QuantizeLinear (``absorb``) is exact but ONNX Runtime's per-axis QuantizeLinear made
   scoring ~3x slower, so it is off.
3. **GELU outputs** (the FFN output projections' inputs, the widest tails) get the
   ``gelu_percentile`` range instead of MinMax (their score error fell up to 2.6x).
4. **Sensitivity fallback** (:mod:`crossrank.export.sensitivity`): while the error is above
   ``error_budget``, the MatMuls with the largest error of their own are restored to fp32, one
   more at a time, at most ``max_kept``.

The score error is a stricter proxy than the gate's top-10 overlap on the same pools: it sees
every score, not the few swaps at the top of 20 pools. On minilm-l6-ce-distilled every variant
measured with a built-in-pool error <= 0.05 kept top-10 overlap >= 0.95 on SciFact and TREC DL 2020
pools (scripts/precision_report.py); the budget is that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank.export.activation_stats import channel_absmax, percentile_ranges
from crossrank.export.attention_split import split_attention
from crossrank.export.sensitivity import measure_each, predicted_fallback, restore_fp32
from crossrank.export.smoothquant import (
    ATTENTION_OUTPUT,
    absorb_smoothing,
    apply_smoothing,
    smooth_targets,
    smoothing_factors,
)
from crossrank.export.static_int8 import PairReader, quantize_static_int8

# FFN output projections (their inputs are the GELU outputs: the widest tails).
FFN_OUTPUT_MARKERS = ("/output/dense/",)


@dataclass(frozen=True)
class StaticSearch:
    """What the static int8 search tries (see the module docstring)."""

    split_attention: bool = True
    alphas: tuple[float | None, ...] = (None, 0.5)
    mul_markers: tuple[str, ...] = ("/intermediate/dense/",)  # smoothed through a Mul node
    absorb: bool = False  # fold those Muls into per-channel QuantizeLinear scales
    gelu_percentile: float | None = 99.99
    error_budget: float = 0.05
    max_kept: int = 8
    method: str = "MinMax"
    reduce_range: bool = False


@dataclass
class Candidate:
    """One quantized graph of the search (its QDQ file still holds the smoothing Muls)."""

    name: str
    path: Path
    source: Path  # the fp32 graph it was quantized from (smoothed, split)
    quantization: dict[str, Any]
    smoothing: dict[str, Any]
    error: float = float("nan")
    kept_fp32: list[str] = field(default_factory=list)


def _feeds(reader: PairReader):
    reader.rewind()
    return iter(reader.get_next, None)


def _ffn_output_inputs(model: Any) -> list[str]:
    return [n.input[0] for n in model.graph.node if n.op_type == "MatMul" and "attention" not in n.name
            and any(m in n.name for m in FFN_OUTPUT_MARKERS)]


def _smooth(base: Path, out: Path, reader: PairReader, alpha: float, mul_markers: Sequence[str]) -> dict[str, Any]:
    """OUT: BASE with smoothing factors of ALPHA folded in (attention output projections through
    V, the MatMuls named by MUL_MARKERS through a Mul); returns what was migrated."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(base))
    targets = [t for t in smooth_targets(model)
               if t.kind == ATTENTION_OUTPUT or any(m in t.matmul for m in mul_markers)]
    absmax = channel_absmax(base, _feeds(reader), sorted({t.activation for t in targets}))
    inits = {i.name: i for i in model.graph.initializer}
    factors = {t.matmul: smoothing_factors(absmax[t.activation], numpy_helper.to_array(inits[t.weight]), alpha)
               for t in targets}
    info = apply_smoothing(base, out, factors, targets)
    largest = max((float(f.max()) for f in factors.values()), default=None)
    return {"alpha": alpha, **info, "largest_factor": None if largest is None else round(largest, 3)}


def _quantize(name: str, source: Path, work: Path, reader: PairReader, search: StaticSearch,
              smoothing: dict[str, Any]) -> Candidate:
    import onnx

    ranges = None
    if search.gelu_percentile is not None:
        tensors = _ffn_output_inputs(onnx.load(str(source), load_external_data=False))
        ranges = percentile_ranges(source, _feeds(reader), tensors, search.gelu_percentile) if tensors else None
    reader.rewind()
    path = work / f"{name}.onnx"
    quantization = quantize_static_int8(source, path, reader, method=search.method,
                                        reduce_range=search.reduce_range, ranges=ranges)
    return Candidate(name, path, source, quantization, smoothing)


def _restore(c: Candidate, kept: Sequence[str]) -> Candidate:
    import onnx

    path = c.path.with_name(f"{c.path.stem}-kept{len(kept)}.onnx")
    onnx.save(restore_fp32(onnx.load(str(c.path)), onnx.load(str(c.source)), kept), str(path))
    return Candidate(f"{c.name}, {len(kept)} kept fp32", path, c.source, c.quantization, c.smoothing,
                     kept_fp32=list(kept))


def _smoothing_tries(base: Path, work: Path, reader: PairReader, search: StaticSearch,
                     score_error: Callable[[Path], float], tries: list[dict[str, Any]],
                     say: Callable[[str], None]) -> Candidate:
    """Each alpha of SEARCH calibrated, quantized and measured; the candidate with the least error."""
    best: Candidate | None = None
    for alpha in search.alphas:
        t = time.perf_counter()
        name = "no smoothing" if alpha is None else f"smoothing alpha {alpha}"
        source, smoothing = base, {"alpha": None}
        if alpha is not None:
            source = work / f"smooth-{alpha}.onnx"
            smoothing = _smooth(base, source, reader, alpha, search.mul_markers)
        c = _quantize(name, source, work, reader, search, smoothing)
        c.error = score_error(c.path)
        tries.append({"name": name, "score_error": round(c.error, 5), "seconds": round(time.perf_counter() - t, 3)})
        say(f"  int8 static, {name}: score error {c.error:.4f} (budget {search.error_budget})")
        if best is None or c.error < best.error:
            best = c
    return best


def run_search(fp32: Path, work: Path, reader: PairReader, search: StaticSearch,
               score_error: Callable[[Path], float], say: Callable[[str], None]) -> tuple[Candidate, dict[str, Any]]:
    """The search of the module docstring, in WORK. Returns (the chosen candidate, what
    report.json says about the search: every try with its error, the sensitivity, seconds per step)."""
    import onnx

    if not search.alphas:
        raise ValueError("StaticSearch.alphas needs at least one entry (None: no smoothing)")
    record: dict[str, Any] = {"error_budget": search.error_budget, "split_attention": 0, "tries": [],
                              "sensitivity": [], "predicted_kept": None, "seconds": {}}
    seconds = record["seconds"]
    t = time.perf_counter()
    base = fp32
    if search.split_attention:
        model, record["split_attention"] = split_attention(onnx.load(str(fp32)))
        base = work / "split.onnx"
        onnx.save(model, str(base))
    seconds["split_attention"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    best = _smoothing_tries(base, work, reader, search, score_error, record["tries"], say)
    seconds["smoothing_and_calibration"] = round(time.perf_counter() - t, 3)
    if best.error > search.error_budget and search.max_kept > 0:
        t = time.perf_counter()
        record["sensitivity"] = measure_each(best.path, best.source, work, score_error)
        seconds["sensitivity"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        best, record["predicted_kept"] = _fallback(best, record["sensitivity"], search, score_error,
                                                   record["tries"], say)
        seconds["fallback"] = round(time.perf_counter() - t, 3)
    record["chosen_error"] = round(best.error, 5)
    record["within_budget"] = best.error <= search.error_budget
    record["why"] = _why(best, record, search)
    return best, record


def _why(best: Candidate, record: dict[str, Any], search: StaticSearch) -> str:
    """One sentence for report.json: what was migrated and what stayed wide, and why."""
    first = min(t["score_error"] for t in record["tries"] if "kept_fp32" not in t)
    smoothing = best.smoothing
    text = (f"smoothing alpha {smoothing['alpha']} (least score error of {[t['name'] for t in record['tries'] if 'kept_fp32' not in t]}): "
            f"{len(smoothing.get('folded_into_v', []))} attention output projections through V, "
            f"{len(smoothing.get('mul_nodes', []))} MatMuls through a Mul" if smoothing.get("alpha") is not None
            else "no smoothing (least score error)")
    if not best.kept_fp32:
        return text + f"; every MatMul int8 (score error {first:.4f}, budget {search.error_budget})"
    return (text + f"; with every MatMul int8 the score error was {first:.4f} > budget {search.error_budget}, so "
            f"the {len(best.kept_fp32)} MatMuls with the largest error of their own stay fp32 "
            f"(error {best.error:.4f})")


def _fallback(best: Candidate, sensitivity: list[dict[str, Any]], search: StaticSearch,
              score_error: Callable[[Path], float], tries: list[dict[str, Any]],
              say: Callable[[str], None]) -> tuple[Candidate, int]:
    """Keep the worst MatMuls in fp32, one more at a time, until the measured error is within budget
    (or MAX_KEPT are kept). Returns (the closest candidate, the count the quadrature sum predicted).

    The quadrature prediction (:func:`predicted_fallback`) is recorded but not trusted: errors of
    separate tensors partly cancel, and on minilm-l6-ce-distilled it asked for 7 where 2 were enough.
    """
    predicted = len(predicted_fallback(sensitivity, best.error, search.error_budget, search.max_kept))
    ranked = [e["node"] for e in sensitivity]
    quantized = best
    for k in range(1, min(search.max_kept, len(ranked)) + 1):
        c = _restore(quantized, ranked[:k])
        c.error = score_error(c.path)
        tries.append({"name": c.name, "kept_fp32": ranked[:k], "score_error": round(c.error, 5)})
        say(f"  int8 static, {c.name}: score error {c.error:.4f}")
        if c.error < best.error:
            best = c
        if c.error <= search.error_budget:
            break
    return best, predicted


def finish(c: Candidate, out: Path, absorb: bool) -> dict[str, Any]:
    """Write the chosen candidate to OUT (with its smoothing Muls absorbed into per-channel
    QuantizeLinear scales when ABSORB); its manifest entry."""
    import shutil

    shutil.copyfile(c.path, out)
    absorbed = absorb_smoothing(out) if absorb else 0
    q = dict(c.quantization)
    q.update({"kept_fp32_nodes": c.kept_fp32, "smoothing": {**c.smoothing, "muls_absorbed": absorbed},
              "quantized_matmuls": q.get("quantized_matmuls", 0) - len(c.kept_fp32)})
    return q
