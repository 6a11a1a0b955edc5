"""The export's fidelity report (``report.json``) and its summary in ``crossrank.json``.

Steps 5 and 6 of :func:`crossrank.export.export_bundle`: both graphs of the new bundle score the
pool sets through crossrank's engine (the fidelity report), then the quality gate decides what
the bundle's int8 graph and default precision are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crossrank.bundle import REPORT_FILE, TOKENIZER_FILE
from crossrank.export.fidelity import builtin_pools, eval_pools
from crossrank.export.gate import Gate, GateThresholds, PoolSet
from crossrank.export.onnx_scorer import unsupported_tokenizer
from crossrank.export.verify import fp32_vs_pytorch
from crossrank.export.web_pools import web_pools


def gate_thresholds(gate: Any) -> GateThresholds | None:
    """The thresholds GATE asks for: True / None (defaults), a dict, GateThresholds; False: None."""
    if gate is True or gate is None:
        return GateThresholds()
    if gate is False:
        return None
    if isinstance(gate, GateThresholds):
        return gate
    if isinstance(gate, dict):
        return GateThresholds(**gate)
    raise TypeError(f"gate must be True, False, a dict or a GateThresholds, not {type(gate).__name__}")


def pool_sets(eval_dir: str | Path | None, eval_queries: int | None, eval_depth: int) -> list[PoolSet]:
    """The built-in pools of both domains, and BM25 pools over EVAL_DIR when given."""
    builtin = builtin_pools()
    sets = [PoolSet("builtin", builtin, None, {
        "pools": len(builtin), "pairs": sum(len(p.docs) for p in builtin),
        "candidates": "built-in: questions about the Python language reference, passages from "
                      "pydoc_data (ships with Python); no judgements",
    })]
    web = web_pools()
    sets.append(PoolSet("web", web, None, {
        "pools": len(web), "pairs": sum(len(p.docs) for p in web),
        "candidates": "built-in: everyday web questions, MS MARCO-style passages shipped with crossrank "
                      "(crossrank.export.web_pools); no judgements",
    }))
    if eval_dir is not None:
        pools, qrels, info = eval_pools(eval_dir, depth=eval_depth, max_queries=eval_queries)
        sets.append(PoolSet("eval", pools, qrels, info))
    return sets


def gated_sets(eval_dir: str | Path | None) -> list[str]:
    """The pool sets the gate's thresholds apply to: the user's judged data when given (that is
    where their data is), else both built-in domains (documentation and web passages)."""
    return ["eval"] if eval_dir is not None else ["builtin", "web"]


def _report_only(runner: Gate, default_precision: str) -> dict[str, Any]:
    """The gate record when the gate is off: what it would have said, nothing changed."""
    ok, reasons = runner.check(runner.base["metrics"])
    runner.base["chosen"] = True
    return {"decision": "off", "passed": ok, "failed_because": reasons,
            "default_precision": default_precision, "chosen": runner.base["name"],
            "kept_fp32": [], "excluded_nodes": [], "fp32_cost_share": 0.0,
            "message": "off (report only): " + ("int8 would pass" if ok else
                                               "int8 would fail: " + "; ".join(reasons)),
            "engine": runner.engine, "variants": runner.variants, "sensitivity": [],
            "time_s": dict(runner.time_s)}


def run_fidelity(folder: Path, steps: Any, manifest: dict[str, Any], thresholds: GateThresholds | None, *,
                 eval_dir: str | Path | None, eval_queries: int | None, eval_depth: int,
                 per_channel: bool, reduce_range: bool,
                 say: Callable[[str], None]) -> tuple[list[PoolSet], dict[str, Any]]:
    """Steps 5 and 6: the fidelity report (int8 vs fp32 on the pools) and the quality gate.

    Args:
        folder: the bundle being built (holds both graphs and a manifest the engine can read).
        steps: the export's step timer (:class:`crossrank.export.pipeline.Steps`).
        manifest: the bundle's manifest so far.
        thresholds: the gate's thresholds; None: report only.
        say: where progress lines go.

    Returns:
        (the pool sets, with their fp32 reference scores; report.json's contents, whose "gate" entry
        says whether the int8 file changed).
    """
    scorer = "onnxruntime" if unsupported_tokenizer(folder / TOKENIZER_FILE) else "crossrank engine"
    with steps.step("fidelity", f"fidelity report: int8 vs fp32 on query pools ({scorer})"):
        t0 = time.perf_counter()
        sets = pool_sets(eval_dir, eval_queries, eval_depth)
        pools_s = round(time.perf_counter() - t0, 3)
        runner = Gate(folder, sets, thresholds or GateThresholds(mixed_precision=False),
                      per_channel=per_channel, reduce_range=reduce_range,
                      gate_sets=gated_sets(eval_dir), log=say)
        runner.measure_base()
    with steps.step("gate", "quality gate" + ("" if thresholds else " (off: report only)")):
        record = runner.search() if thresholds is not None else _report_only(
            runner, manifest["default_precision"])
    record["changed_int8"] = record["chosen"] != runner.base["name"]
    record["quantized_ops"] = next(v for v in record["variants"] if v.get("chosen"))["quantized_ops"]
    record["time_s"]["pools"] = pools_s
    variants = record.pop("variants")
    sensitivity = record.pop("sensitivity")
    return sets, {
        "format_version": 1,
        "model": manifest["source"]["model"],
        "what": "agreement of the bundle's int8 graph(s) with its fp32 graph, same tokenization and "
                "engine; nDCG@10 only where judged data was given. Agreement, not ranking quality.",
        "engine": record.get("engine"),
        "fp32_vs_pytorch": fp32_vs_pytorch(manifest.get("verification")),
        "pool_sets": {ps.name: ps.info for ps in sets},
        "gated_on": gated_sets(eval_dir),
        "gate": record,
        "variants": variants,
        "sensitivity": sensitivity,
    }


def fidelity_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What crossrank.json keeps of report.json: the decision and every variant's numbers."""
    keep = ("top10_overlap", "top10_overlap_min", "kendall_tau", "spearman", "ndcg@10_reference",
            "ndcg@10_test", "ndcg@10_drop_points", "pools", "pairs")
    gate = report["gate"]
    return {
        "report": REPORT_FILE,
        "engine": report["engine"],
        "fp32_vs_pytorch_max_abs_diff": (report.get("fp32_vs_pytorch") or {}).get("max_abs_diff"),
        "gate": {k: gate.get(k) for k in ("decision", "passed", "message", "thresholds", "gated_on",
                                          "chosen", "kept_fp32", "fp32_cost_share", "note")},
        "variants": [
            {"name": v["name"], "passed": v["passed"], "chosen": bool(v.get("chosen")),
             "kept_fp32": v["kept_fp32"],
             "metrics": {s: {k: m[k] for k in keep if k in m} for s, m in v["metrics"].items()}}
            for v in report["variants"]
        ],
    }


def apply_gate(manifest: dict[str, Any], report: dict[str, Any]) -> None:
    """Record the gate's decision in MANIFEST: quantization details, default precision, notes."""
    gate = report["gate"]
    manifest["quantization"]["quantized_ops"] = gate["quantized_ops"]
    manifest["quantization"]["kept_fp32"] = gate["kept_fp32"]
    manifest["quantization"]["excluded_nodes"] = gate["excluded_nodes"]
    manifest["default_precision"] = gate["default_precision"]
    manifest["fidelity"] = fidelity_summary(report)
    if gate["decision"] == "fp32":
        manifest["notes"].append(
            "quality gate: dynamic int8 did not agree with fp32 closely enough (see report.json); "
            "the bundle defaults to the fastest other rung that passes, else fp32 (default_precision; "
            "precision='int8' still runs the closest int8 variant)")
    elif gate["decision"] == "mixed":
        manifest["notes"].append(
            f"quality gate: int8 graph is mixed precision, {', '.join(gate['kept_fp32'])} "
            "kept in fp32 (see report.json)")
