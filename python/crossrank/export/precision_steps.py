"""The export's precision steps after the dynamic int8 gate: the static int8 rung, then the choice
of the fastest rung the gate accepts (steps of :func:`crossrank.export.export_bundle`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crossrank._validation import PRECISIONS
from crossrank.bundle import CPU_BOUND_PRECISIONS, FP32_FILE, INT8_STATIC_FILE, TOKENIZER_FILE, runs_here
from crossrank.export.gate import GateThresholds, PoolSet
from crossrank.export.onnx_scorer import unsupported_tokenizer
from crossrank.export.rungs import SPEED_PAIRS, build_static_rung, calibration_source, rung_table
from crossrank.export.static_search import StaticSearch


def static_step(folder: Path, manifest: dict[str, Any], report: dict[str, Any], sets: list[PoolSet],
                thresholds: GateThresholds | None, *, calibration_dir: str | Path | None, method: str,
                say: Any) -> None:
    """Build and measure the static int8 rung; record it in REPORT ("int8_static") and MANIFEST
    (files.int8_static, quantization_static). Skipped, with the reason, where crossrank's engine does
    not read the bundle's tokenizer yet (calibration tokenizes with it)."""
    reason = unsupported_tokenizer(folder / TOKENIZER_FILE)
    if reason:
        report["int8_static"] = {"skipped": f"no static int8: crossrank's engine cannot read the tokenizer ({reason})"}
        return
    gate_sets = report["gated_on"]
    calibration = calibration_source(calibration_dir, [ps for ps in sets if ps.name in gate_sets])
    entry = build_static_rung(folder, folder / FP32_FILE, sets, thresholds or GateThresholds(), gate_sets,
                              calibration, max_length=manifest["max_length"], input_names=manifest["inputs"],
                              search=StaticSearch(method=method,
                                                  reduce_range=bool(manifest["quantization"]["reduce_range"])),
                              say=say)
    report["int8_static"] = entry
    manifest["files"]["int8_static"] = INT8_STATIC_FILE
    manifest["quantization_static"] = entry["quantization"]


def rung_step(folder: Path, manifest: dict[str, Any], report: dict[str, Any], sets: list[PoolSet],
              gate_on: bool, *, threads: int | None = None) -> dict[str, Any]:
    """Time every rung the bundle has on the same pairs and record report["rungs"]; with the gate on,
    the fastest rung that passed becomes the bundle's default_precision. Skipped, with the reason,
    where crossrank's engine does not read the bundle's tokenizer yet (the gate's decision stands)."""
    reason = unsupported_tokenizer(folder / TOKENIZER_FILE)
    if reason:
        report["rungs"] = {"skipped": f"rungs not timed: crossrank's engine cannot read the tokenizer ({reason})"}
        return report["rungs"]
    available = [p for p in PRECISIONS if p in manifest["files"] and (folder / manifest["files"][p]).is_file()
                 and runs_here(p)]  # kernel rungs only where the CPU has their instructions
    gate = report["gate"]
    static = report.get("int8_static") or {}
    passed = {"fp32": True, "int8": bool(gate.get("passed")), "int8_static": bool(static.get("passed"))}
    agreement = {"int8": next((v["metrics"] for v in report["variants"] if v.get("chosen")), None),
                 "int8_static": next((v["metrics"] for v in static.get("variants", []) if v.get("chosen")), None)}
    for p in CPU_BOUND_PRECISIONS:  # the kernel rungs (crossrank.export.kernel_rungs)
        entry = report.get(p) or {}
        passed[p], agreement[p] = bool(entry.get("passed")), entry.get("metrics")
    pairs = [(p.query, d) for ps in sets if ps.name in report["gated_on"] for p in ps.pools for d in p.docs]
    table = rung_table(folder, available, passed, agreement, pairs[::max(1, len(pairs) // SPEED_PAIRS)][:SPEED_PAIRS],
                       threads=threads)
    table["applied"] = gate_on
    report["rungs"] = table
    if gate_on:
        manifest["default_precision"] = table["chosen"]
    manifest["precision_rungs"] = {p: {k: r[k] for k in ("passed", "speedup_vs_fp32")}
                                   for p, r in table["rungs"].items()}
    manifest["precision_rungs_chosen"] = table["chosen"]
    return table
