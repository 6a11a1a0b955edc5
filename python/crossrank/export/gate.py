"""The int8 quality gate: measure what dynamic int8 costs, keep the sensitive MatMuls in fp32.

The :class:`Gate` is run by the export (``crossrank export``) once both graphs exist:

1. score the gate's pools with the fp32 graph (reference) and the int8 graph (crossrank's engine);
2. if int8 agrees enough with fp32 (top-10 overlap >= ``min_top10_overlap`` and, with judged data,
   nDCG@10 drop <= ``max_ndcg_drop_points``) it is kept;
3. else mixed precision: for each group of quantizable operators (the embedding tables, each
   layer's attention block and feed-forward block, the pooler/classifier head) a graph with every
   group but that one quantized is scored, which measures the group's share of the score error;
   groups are then kept in fp32 worst first (free ones first: tables and head cost nothing to
   keep) until the gate passes or the budget (variants, seconds) is spent;
4. if still below, the bundle is marked ``default_precision: "fp32"`` and the best int8 variant
   tried stays in the bundle for those who ask for it.

Every variant tried is recorded with its agreement numbers.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.bundle import FP32_FILE, INT8_FILE
from crossrank.export.fidelity import Pool, compare, format_metric, make_scorer, score_pools
from crossrank.export.onnx_steps import QUANTIZED_OPS, count_ops, quantize_dynamic_int8
from crossrank.export.op_groups import OpGroup, op_groups
from crossrank.export.sensitivity import centered_error

__all__ = ["Gate", "GateThresholds", "OpGroup", "PoolSet", "op_groups", "quantize_variant", "quantized_ops"]


@dataclass(frozen=True)
class GateThresholds:
    """When is int8 good enough? Agreement with fp32 of the same model, per query pool."""

    min_top10_overlap: float = 0.95
    max_ndcg_drop_points: float = 0.5  # nDCG@10 points (x100), judged data only
    max_variants: int = 4  # mixed-precision variants to try after the plain int8 one
    budget_s: float = 90.0  # seconds the mixed-precision search may spend
    max_fp32_share: float = 0.5  # most of the weight multiply-adds a mixed graph may keep in fp32
    mixed_precision: bool = True

    def check(self, metrics: dict[str, dict[str, Any]]) -> tuple[bool, list[str]]:
        """(passed, reasons for failing) over the metric sets (builtin / eval) of one variant."""
        reasons = []
        for name, m in metrics.items():
            if not m:
                continue
            ov = m.get("top10_overlap")
            if ov is None or not ov >= self.min_top10_overlap:
                reasons.append(f"{name}: top-10 overlap {format_metric(ov)} < {self.min_top10_overlap}")
            drop = m.get("ndcg@10_drop_points")
            if drop is not None and not drop <= self.max_ndcg_drop_points:
                reasons.append(f"{name}: nDCG@10 drop {drop:.2f} points > {self.max_ndcg_drop_points}")
        return not reasons, reasons

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# making a variant


def quantize_variant(fp32: str | Path, out: str | Path, *, per_channel: bool = True,
                     reduce_range: bool = False, exclude: Sequence[str] = (),
                     only: Sequence[str] | None = None) -> dict[str, Any]:
    """Dynamic int8 (U8S8, QOperator) of the fused FP32 graph into OUT, through the export's own
    quantization step (:func:`crossrank.export.onnx_steps.quantize_dynamic_int8`).

    Args:
        fp32: the fused fp32 graph.
        out: the int8 graph to write.
        per_channel: one int8 scale per output channel (False: per tensor).
        reduce_range: 7-bit weights.
        exclude: nodes left in fp32.
        only: quantize only these nodes (None: all that can be).

    Returns:
        ``{"quantized_ops": {op_type: count}}`` of the written graph.
    """
    quantize_dynamic_int8(fp32, out, per_channel=per_channel, reduce_range=reduce_range, exclude=exclude,
                          only=only)
    return {"quantized_ops": quantized_ops(out)}


def quantized_ops(path: str | Path) -> dict[str, int]:
    """``{op_type: count}`` of the quantized operators of the graph at PATH."""
    return count_ops(path, QUANTIZED_OPS)


# --------------------------------------------------------------------------------------------
# the gate


@dataclass
class PoolSet:
    """A named set of pools with its fp32 reference scores (and judgements, for nDCG)."""

    name: str
    pools: list[Pool]
    qrels: dict[str, dict[str, int]] | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    reference: list[np.ndarray] | None = None


class Gate:
    """The quality gate over one bundle folder (which holds model.onnx and model.int8.onnx).

    ``measure_base()`` scores POOL_SETS with fp32 and int8 (the fidelity report);
    ``search()`` then looks for a mixed-precision graph when the base fails, replaces the bundle's
    int8 file with the best variant, and returns the gate record. The per-group sensitivity is
    measured on the first pool set (at most ``calibration_pools`` of its pools).

    Args:
        bundle: the bundle folder.
        pool_sets: the pools to score; the first one is also the calibration set.
        thresholds: when int8 is good enough.
        per_channel: per-channel int8 weights in the variants.
        reduce_range: 7-bit int8 weights in the variants.
        gate_sets: the names of the pool sets the thresholds apply to (default: all).
        calibration_pools: pools of the first set the sensitivity is measured on.
        log: where progress lines go.
        threads: engine threads for scoring.
    """

    def __init__(self, bundle: str | Path, pool_sets: Sequence[PoolSet], thresholds: GateThresholds,
                 *, per_channel: bool = True, reduce_range: bool = False,
                 gate_sets: Sequence[str] | None = None, calibration_pools: int = 5,
                 log: Callable[[str], None] | None = None, threads: int | None = None) -> None:
        if not pool_sets:
            raise ValueError("the gate needs at least one pool set")
        self.bundle = Path(bundle)
        self.pool_sets = list(pool_sets)
        self.thresholds = thresholds
        self.per_channel = per_channel
        self.reduce_range = reduce_range
        self.gate_sets = list(gate_sets or [ps.name for ps in self.pool_sets])
        self.calibration_pools = calibration_pools
        self.log = log or (lambda s: None)
        self.threads = threads
        self.fp32_path = self.bundle / FP32_FILE
        self.int8_path = self.bundle / INT8_FILE
        self.variants: list[dict[str, Any]] = []
        self.sensitivity: list[dict[str, Any]] = []
        self.engine: str | None = None
        self.base: dict[str, Any] | None = None
        self.time_s = {"reference": 0.0, "base": 0.0, "search": 0.0}

    # -- measuring ----------------------------------------------------------------------------

    def _scorer(self, path: Path, precision: str = "int8"):
        scorer = make_scorer(self.bundle, path, precision=precision, threads=self.threads)
        self.engine = scorer.engine
        return scorer

    def check(self, metrics: dict[str, dict[str, Any]]) -> tuple[bool, list[str]]:
        return self.thresholds.check({k: v for k, v in metrics.items() if k in self.gate_sets})

    def measure(self, name: str, path: Path, kept: Sequence[str] = (),
                info: dict[str, Any] | None = None) -> dict[str, Any]:
        """Scores every pool set with the int8 graph PATH and records the variant."""
        t0 = time.perf_counter()
        scorer = self._scorer(path)
        metrics, first = {}, None
        for ps in self.pool_sets:
            scores = score_pools(scorer, ps.pools)
            metrics[ps.name] = compare(ps.reference, scores, ps.pools, qrels=ps.qrels)
            if first is None:
                first = centered_error(ps.reference, scores)
        passed, reasons = self.check(metrics)
        v = {"name": name, "per_channel": self.per_channel, "kept_fp32": list(kept),
             "metrics": metrics, "passed": passed, "failed_because": reasons,
             "score_error": first, "quantized_ops": quantized_ops(path), **(info or {}),
             "measure_s": round(time.perf_counter() - t0, 3)}
        self.variants.append(v)
        m = metrics[self.gate_sets[0]]
        self.log(f"  {name}: top-10 overlap {m['top10_overlap']:.3f}, Kendall tau {m['kendall_tau']:.3f}"
                 + (f", nDCG@10 drop {m['ndcg@10_drop_points']:+.2f} pt" if "ndcg@10_drop_points" in m else "")
                 + (" — passes" if passed else ""))
        return v

    def measure_base(self) -> dict[str, Any]:
        """fp32 reference scores and the bundle's int8 graph against them."""
        t0 = time.perf_counter()
        ref = self._scorer(self.fp32_path, "fp32")
        for ps in self.pool_sets:
            if ps.reference is None:
                ps.reference = score_pools(ref, ps.pools)
        del ref
        t1 = time.perf_counter()
        self.base = self.measure("int8 per-channel" if self.per_channel else "int8 per-tensor",
                                 self.int8_path, (), {"fp32_cost_share": 0.0})
        self.time_s["reference"] = round(t1 - t0, 3)
        self.time_s["base"] = round(time.perf_counter() - t1, 3)
        return self.base

    # -- searching ----------------------------------------------------------------------------

    def _sensitivity(self, groups: list[OpGroup], work: Path, deadline: float) -> str | None:
        """Leave-one-out: quantize everything but group G; G's share of the squared score error is
        what keeping it in fp32 removes (errors of separate groups add up nearly in quadrature)."""
        cal = self.pool_sets[0]
        pools = cal.pools[: self.calibration_pools]
        ref = cal.reference[: self.calibration_pools]
        base_err = centered_error(ref, score_pools(self._scorer(self.int8_path), pools))
        for g in groups:
            if time.perf_counter() > deadline:
                return "sensitivity measurement stopped: time budget spent"
            p = work / "leave-one-out.onnx"
            quantize_variant(self.fp32_path, p, per_channel=self.per_channel,
                             reduce_range=self.reduce_range, exclude=g.nodes)
            err = centered_error(ref, score_pools(self._scorer(p), pools))
            self.sensitivity.append({"group": g.name, "nodes": list(g.nodes), "cost": round(g.cost, 4),
                                     "score_error_without": err,
                                     "error_share": (base_err ** 2 - err ** 2) / base_err ** 2
                                     if base_err > 0 else 0.0})
        return None

    def _predicted_start(self, order: list[dict[str, Any]], prefixes: list[int]) -> int:
        """Index into PREFIXES of the first variant worth measuring. Score errors of separate
        groups add nearly in quadrature and rank flips grow about linearly with the error, so the
        base variant's (error, overlap) predicts how much error must go: start at the shortest
        prefix predicted to pass rather than measuring every shorter one."""
        m = self.base["metrics"][self.pool_sets[0].name]
        miss = 1.0 - (m.get("top10_overlap") or 0.0)
        allowed = 1.0 - self.thresholds.min_top10_overlap
        if miss <= 0.0 or allowed <= 0.0 or "builtin" not in self.gate_sets:
            return 0
        need = 1.0 - min(1.0, allowed / miss) ** 2  # share of the squared error to remove
        for j, k in enumerate(prefixes):
            if sum(s["error_share"] for s in order[:k]) >= need:
                return max(0, j - 1)  # one short of the prediction: the prediction is rough
        return max(0, len(prefixes) - 2)

    def _keep_order(self) -> tuple[list[dict[str, Any]], list[int]]:
        """(groups in the order they are kept in fp32, the prefix lengths worth trying)."""
        ranked = sorted(self.sensitivity, key=lambda s: -s["error_share"])
        # Free groups (lookups, the head: no per-token multiply-adds) are kept together
        # first when they matter at all; then the paid ones, worst first, as long as the
        # fp32 share stays within max_fp32_share (beyond it int8 buys little speed).
        free = [s for s in ranked if s["cost"] == 0.0 and s["error_share"] > 0.01]
        order = free + [s for s in ranked if s["cost"] > 0.0]
        prefixes, cost = [], 0.0
        for i, s in enumerate(order):
            cost += s["cost"]
            if cost > self.thresholds.max_fp32_share + 1e-9:
                break
            if s["cost"] > 0.0 or i + 1 == len(free):
                prefixes.append(i + 1)
        return order, prefixes

    def _measure_mixed(self, kept: list[dict[str, Any]], path: Path) -> dict[str, Any]:
        """Quantize all but the groups KEPT into PATH and measure that variant."""
        exclude = [n for s in kept for n in s["nodes"]]
        quantize_variant(self.fp32_path, path, per_channel=self.per_channel,
                         reduce_range=self.reduce_range, exclude=exclude)
        cost = round(sum(s["cost"] for s in kept), 4)
        return self.measure(f"mixed: {', '.join(s['group'] for s in kept)} fp32", path,
                            [s["group"] for s in kept],
                            {"fp32_cost_share": cost, "excluded_nodes": exclude,
                             "predicted_error_share_removed": round(
                                 sum(s["error_share"] for s in kept), 4)})

    def _mixed_search(self, work: Path, deadline: float) -> tuple[dict[str, Any], Path, str | None]:
        """(best variant, its file, note) of the mixed-precision search after a failed base."""
        th = self.thresholds
        best, best_path = self.base, self.int8_path
        self.log("  int8 is below the gate: measuring which operator groups cost the most")
        note = self._sensitivity(op_groups(self.fp32_path), work, deadline)
        order, prefixes = self._keep_order()
        tries = 0
        for k in prefixes[self._predicted_start(order, prefixes):]:
            if note is not None:
                break
            if tries >= th.max_variants:
                note = f"mixed-precision search stopped after {tries} variants (max_variants)"
                break
            if tries and time.perf_counter() > deadline:  # the first one always runs
                note = "mixed-precision search stopped: time budget spent"
                break
            tries += 1
            p = work / f"mixed-{tries}.onnx"
            v = self._measure_mixed(order[:k], p)
            if _better(v, best, self.gate_sets[0]):
                best, best_path = v, p
            if v["passed"]:
                break
        else:
            if not best["passed"] and note is None:
                note = (f"no mixed graph keeping at most {th.max_fp32_share:.0%} of the weight "
                        "multiply-adds in fp32 reached the thresholds")
        return best, best_path, note

    def search(self) -> dict[str, Any]:
        """Mixed precision when the base fails; returns the gate record."""
        if self.base is None:
            self.measure_base()
        t0 = time.perf_counter()
        th = self.thresholds
        best, best_path, note = self.base, self.int8_path, None
        work = Path(tempfile.mkdtemp(prefix=".gate-", dir=self.bundle))
        try:
            if not self.base["passed"] and th.mixed_precision and th.max_variants > 0:
                best, best_path, note = self._mixed_search(work, t0 + th.budget_s)
            if best_path != self.int8_path:
                os.replace(best_path, self.int8_path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.time_s["search"] = round(time.perf_counter() - t0, 3)
        return self._record(best, note)

    def _record(self, best: dict[str, Any], note: str | None) -> dict[str, Any]:
        th = self.thresholds
        best["chosen"] = True
        if self.base["passed"]:
            decision = "int8"
            message = f"passed: {self.base['name']} agrees with fp32 (top-10 overlap >= {th.min_top10_overlap})"
        elif best["passed"]:
            decision = "mixed"
            message = (f"passed with mixed precision: kept {', '.join(best['kept_fp32'])} in fp32 "
                       f"({100 * best.get('fp32_cost_share', 0):.0f} % of the weight multiply-adds)")
        else:
            decision = "fp32"
            message = ("FAILED: no dynamic int8 variant tried reaches the thresholds ("
                       + "; ".join(best["failed_because"]) + "); the other rungs decide the default (else "
                       f"fp32), model.int8.onnx holds the closest int8 variant ({best['name']})")
        return {
            "thresholds": th.as_dict(),
            "gated_on": self.gate_sets,
            "engine": self.engine,
            "decision": decision,
            "passed": decision != "fp32",
            "default_precision": "fp32" if decision == "fp32" else "int8",
            "chosen": best["name"],
            "kept_fp32": best["kept_fp32"],
            "fp32_cost_share": best.get("fp32_cost_share", 0.0),
            "excluded_nodes": best.get("excluded_nodes", []),
            "message": message,
            "note": note,
            "variants": self.variants,
            "sensitivity": self.sensitivity,
            "time_s": dict(self.time_s),
        }


def _better(a: dict[str, Any], b: dict[str, Any], key: str) -> bool:
    """Is variant A closer to fp32 than B (a pass beats a fail; then overlap, then tau)?"""
    ma, mb = a["metrics"][key], b["metrics"][key]
    return (a["passed"], ma["top10_overlap"], ma["kendall_tau"]) > (
        b["passed"], mb["top10_overlap"], mb["kendall_tau"])
