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
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossrank import fidelity as F

__all__ = ["Gate", "GateThresholds", "OpGroup", "PoolSet", "add_gate_arguments", "gate_kwargs", "op_groups",
           "quantize_variant"]

QUANTIZED_OPS = ("MatMulInteger", "QAttention", "DynamicQuantizeMatMul", "QGemm", "DynamicQuantizeLinear",
                 "DequantizeLinear", "QLinearMatMul", "QuantizeLinear")


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
                reasons.append(f"{name}: top-10 overlap {F._f(ov)} < {self.min_top10_overlap}")
            drop = m.get("ndcg@10_drop_points")
            if drop is not None and not drop <= self.max_ndcg_drop_points:
                reasons.append(f"{name}: nDCG@10 drop {drop:.2f} points > {self.max_ndcg_drop_points}")
        return not reasons, reasons

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------
# what can be kept in fp32


@dataclass(frozen=True)
class OpGroup:
    """Operators of the fused fp32 graph that are kept in fp32 (or quantized) together."""

    name: str
    nodes: tuple[str, ...]
    cost: float  # share of the graph's weight multiply-adds per token (0 for lookups, the head)


_LAYER = re.compile(r"layers?[._/](\d+)[./]")


def op_groups(model_path: str | Path) -> list[OpGroup]:
    """The quantizable operators of a fused fp32 graph, grouped: 'embeddings' (Gather on weight
    tables), 'layer.<i>.attention' (fused Attention + output projection), 'layer.<i>.ffn' (the two
    feed-forward MatMuls), 'head' (what runs on the pooled token: pooler, classifier)."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    inits = {i.name: i for i in graph.initializer}

    def weight_size(node) -> int:
        for name in node.input[1:2] if node.op_type != "Gather" else ():
            init = inits.get(name)
            if init is not None:
                return int(np.prod(init.dims))
        return 0

    # Which layer a node belongs to: from its name, or (fused Attention_<i>) from its input.
    groups: dict[str, list[Any]] = {}
    attention_seen = 0
    for node in graph.node:
        if node.op_type == "Gather" and node.input and node.input[0] in inits:
            groups.setdefault("embeddings", []).append(node)
            continue
        if node.op_type not in ("MatMul", "Attention", "Gemm"):
            continue
        if node.op_type == "MatMul" and not any(i in inits for i in node.input):
            continue  # activation x activation: not quantized by dynamic quantization
        text = node.name + " " + " ".join(node.input)
        if node.op_type == "Attention":
            layer = attention_seen
            attention_seen += 1
            groups.setdefault(f"layer.{layer}.attention", []).append(node)
            continue
        m = _LAYER.search(node.name) or _LAYER.search(text)
        if m is None:
            groups.setdefault("head", []).append(node)
            continue
        layer = int(m.group(1))
        lname = node.name.lower()
        part = "attention" if "attention" in lname else "ffn"
        groups.setdefault(f"layer.{layer}.{part}", []).append(node)
    total = sum(weight_size(n) for ns in groups.values() for n in ns if not _runs_once(n, groups))
    out = []
    for name, nodes in groups.items():
        per_token = sum(weight_size(n) for n in nodes) if name not in ("embeddings", "head") else 0
        out.append(OpGroup(name, tuple(n.name for n in nodes), per_token / total if total else 0.0))

    def order(g: OpGroup):
        m = re.match(r"layer\.(\d+)\.(\w+)", g.name)
        return (0, 0, "") if g.name == "embeddings" else (2, 0, "") if g.name == "head" else (
            1, int(m.group(1)), m.group(2))

    return sorted(out, key=order)


def _runs_once(node, groups) -> bool:
    return any(node in groups.get(k, []) for k in ("embeddings", "head"))


# --------------------------------------------------------------------------------------------
# making a variant


def quantize_variant(fp32: str | Path, out: str | Path, *, per_channel: bool = True,
                     reduce_range: bool = False, exclude: Sequence[str] = (),
                     only: Sequence[str] | None = None) -> dict[str, Any]:
    """Dynamic int8 (U8S8, QOperator) of the fused FP32 graph into OUT, leaving the nodes in
    EXCLUDE in fp32 (or quantizing only the nodes in ONLY). Returns the graph's quantized ops."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from crossrank.export import _Quiet

    with _Quiet():
        quantize_dynamic(
            Path(fp32), Path(out),
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(exclude) or None,
            nodes_to_quantize=list(only) if only is not None else None,
            # Shape inference cannot see through the fused contrib ops (DESIGN.md).
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return {"quantized_ops": quantized_ops(out)}


def quantized_ops(path: str | Path) -> dict[str, int]:
    import onnx

    ops: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        if node.op_type in QUANTIZED_OPS:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return dict(sorted(ops.items()))


# --------------------------------------------------------------------------------------------
# the gate


def _centered_error(ref: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> float:
    """RMS of the score error after removing each pool's mean shift (which ranks ignore),
    relative to the within-pool spread of the reference: a smooth stand-in for rank agreement."""
    num, den = 0.0, 0.0
    for r, t in zip(ref, test):
        if len(r) < 2:
            continue
        e = (t - r) - np.mean(t - r)
        num += float(e @ e)
        c = r - np.mean(r)
        den += float(c @ c)
    return float(np.sqrt(num / den)) if den > 0 else 0.0


@dataclass
class PoolSet:
    """A named set of pools with its fp32 reference scores (and judgements, for nDCG)."""

    name: str
    pools: list[F.Pool]
    qrels: dict[str, dict[str, int]] | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    reference: list[np.ndarray] | None = None


class Gate:
    """The quality gate over one bundle folder (which holds model.onnx and model.int8.onnx).

    ``measure_base()`` scores POOL_SETS with fp32 and int8 (the fidelity report);
    ``search()`` then looks for a mixed-precision graph when the base fails, replaces the bundle's
    int8 file with the best variant, and returns the gate record. GATE_SETS: the names of the pool
    sets the thresholds apply to (default: all). CALIBRATION: the pool set the per-group
    sensitivity is measured on (default: the first, at most ``calibration_pools`` of its pools)."""

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
        self.fp32_path = self.bundle / "model.onnx"
        self.int8_path = self.bundle / "model.int8.onnx"
        self.variants: list[dict[str, Any]] = []
        self.sensitivity: list[dict[str, Any]] = []
        self.engine: str | None = None
        self.base: dict[str, Any] | None = None
        self.time_s = {"reference": 0.0, "base": 0.0, "search": 0.0}

    # -- measuring ----------------------------------------------------------------------------

    def _scorer(self, path: Path, precision: str = "int8"):
        scorer = F.make_scorer(self.bundle, path, precision=precision, threads=self.threads)
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
            scores = F.score_pools(scorer, ps.pools)
            metrics[ps.name] = F.compare(ps.reference, scores, ps.pools, qrels=ps.qrels)
            if first is None:
                first = _centered_error(ps.reference, scores)
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
                ps.reference = F.score_pools(ref, ps.pools)
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
        base_err = _centered_error(ref, F.score_pools(self._scorer(self.int8_path), pools))
        for g in groups:
            if time.perf_counter() > deadline:
                return "sensitivity measurement stopped: time budget spent"
            p = work / "leave-one-out.onnx"
            quantize_variant(self.fp32_path, p, per_channel=self.per_channel,
                             reduce_range=self.reduce_range, exclude=g.nodes)
            err = _centered_error(ref, F.score_pools(self._scorer(p), pools))
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

    def search(self) -> dict[str, Any]:
        """Mixed precision when the base fails; returns the gate record."""
        if self.base is None:
            self.measure_base()
        t0 = time.perf_counter()
        th = self.thresholds
        deadline = t0 + th.budget_s
        best, best_path = self.base, self.int8_path
        note = None
        work = Path(tempfile.mkdtemp(prefix=".gate-", dir=self.bundle))
        try:
            if not self.base["passed"] and th.mixed_precision and th.max_variants > 0:
                self.log("  int8 is below the gate: measuring which operator groups cost the most")
                note = self._sensitivity(op_groups(self.fp32_path), work, deadline)
                ranked = sorted(self.sensitivity, key=lambda s: -s["error_share"])
                # Free groups (lookups, the head: no per-token multiply-adds) are kept together
                # first when they matter at all; then the paid ones, worst first, as long as the
                # fp32 share stays within max_fp32_share (beyond it int8 buys little speed).
                free = [s for s in ranked if s["cost"] == 0.0 and s["error_share"] > 0.01]
                order = free + [s for s in ranked if s["cost"] > 0.0]
                prefixes, cost = [], 0.0
                for i, s in enumerate(order):
                    cost += s["cost"]
                    if cost > th.max_fp32_share + 1e-9:
                        break
                    if s["cost"] > 0.0 or i + 1 == len(free):
                        prefixes.append(i + 1)
                start = self._predicted_start(order, prefixes)
                tries = 0
                for k in prefixes[start:]:
                    if note is not None:
                        break
                    if tries >= th.max_variants:
                        note = f"mixed-precision search stopped after {tries} variants (max_variants)"
                        break
                    if tries and time.perf_counter() > deadline:  # the first one always runs
                        note = "mixed-precision search stopped: time budget spent"
                        break
                    kept = order[:k]
                    tries += 1
                    p = work / f"mixed-{tries}.onnx"
                    exclude = [n for s in kept for n in s["nodes"]]
                    quantize_variant(self.fp32_path, p, per_channel=self.per_channel,
                                     reduce_range=self.reduce_range, exclude=exclude)
                    cost = round(sum(s["cost"] for s in kept), 4)
                    v = self.measure(f"mixed: {', '.join(s['group'] for s in kept)} fp32", p,
                                     [s["group"] for s in kept],
                                     {"fp32_cost_share": cost, "excluded_nodes": exclude,
                                      "predicted_error_share_removed": round(
                                          sum(s["error_share"] for s in kept), 4)})
                    if _better(v, best, self.gate_sets[0]):
                        best, best_path = v, p
                    if v["passed"]:
                        break
                else:
                    if not best["passed"] and note is None:
                        note = (f"no mixed graph keeping at most {th.max_fp32_share:.0%} of the weight "
                                "multiply-adds in fp32 reached the thresholds")
            if best_path != self.int8_path:
                os.replace(best_path, self.int8_path)
        finally:
            import shutil

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
            message = ("FAILED: no int8 variant tried reaches the thresholds ("
                       + "; ".join(best["failed_because"]) + "); the bundle defaults to fp32, "
                       f"model.int8.onnx holds the closest int8 variant ({best['name']})")
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


# --------------------------------------------------------------------------------------------
# command-line arguments


def add_gate_arguments(parser) -> None:
    """Adds the fidelity-report / quality-gate arguments to an argparse (sub)parser; read them
    back with :func:`gate_kwargs`."""
    g = parser.add_argument_group("fidelity report and int8 quality gate")
    g.add_argument("--eval", type=Path, default=None, metavar="DIR",
                   help="judged data in BEIR layout (corpus.jsonl, queries.jsonl, qrels/test.tsv): "
                        "also report nDCG@10 of fp32 vs int8, reranking BM25 top-100")
    g.add_argument("--eval-queries", type=int, default=50, metavar="N",
                   help="judged queries of --eval to use (default 50; 0 = all)")
    g.add_argument("--eval-depth", type=int, default=100, metavar="K",
                   help="candidates per query for --eval (default 100)")
    g.add_argument("--min-top10-overlap", type=float, default=GateThresholds.min_top10_overlap,
                   help="gate: lowest mean per-query top-10 overlap of int8 with fp32 (default 0.95)")
    g.add_argument("--max-ndcg-drop", type=float, default=GateThresholds.max_ndcg_drop_points,
                   help="gate: largest nDCG@10 drop of int8 vs fp32 in points, with --eval (default 0.5)")
    g.add_argument("--no-mixed-precision", action="store_true",
                   help="gate: do not search for a mixed-precision graph when int8 fails")
    g.add_argument("--gate-budget", type=float, default=GateThresholds.budget_s, metavar="SECONDS",
                   help="gate: time the mixed-precision search may spend (default %(default)s)")
    g.add_argument("--max-fp32-share", type=float, default=GateThresholds.max_fp32_share, metavar="F",
                   help="gate: most of the weight multiply-adds a mixed graph may keep in fp32 "
                        "(default %(default)s; beyond it the bundle falls back to fp32)")
    g.add_argument("--no-fidelity", action="store_true",
                   help="skip the fidelity report and the quality gate")


def gate_kwargs(args) -> dict[str, Any]:
    """export_bundle keyword arguments from arguments added by :func:`add_gate_arguments`."""
    return {
        "fidelity": not args.no_fidelity,
        "eval_dir": args.eval,
        "eval_queries": args.eval_queries or None,
        "eval_depth": args.eval_depth,
        "gate": GateThresholds(min_top10_overlap=args.min_top10_overlap,
                               max_ndcg_drop_points=args.max_ndcg_drop,
                               mixed_precision=not args.no_mixed_precision,
                               budget_s=args.gate_budget,
                               max_fp32_share=args.max_fp32_share),
    }
