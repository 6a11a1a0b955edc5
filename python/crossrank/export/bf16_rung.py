"""The export's bf16 rung: model.bf16.engine.onnx (:mod:`crossrank.export.bf16_graph`), built where
this CPU has AVX512-BF16 and measured against fp32 on the gate's pool sets like the int8 rungs.

A CPU without AVX512-BF16 never runs the rung: the export records why there is none, a bundle made
elsewhere keeps its bf16 file but :class:`crossrank.reranker.Reranker` refuses ``precision="bf16"``
there and its default falls back (:meth:`crossrank.bundle.Bundle.precision_here`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crossrank.bundle import BF16_FILE, CPU_BOUND_PRECISIONS, FP32_FILE, TOKENIZER_FILE, runs_here, sha256_file
from crossrank.export.bf16_graph import OP, write_bf16_graph
from crossrank.export.gate import GateThresholds, PoolSet
from crossrank.export.onnx_scorer import unsupported_tokenizer
from crossrank.export.rungs import rung_agreement


def why_no_bf16(folder: Path) -> str | None:
    """Why the export builds no bf16 rung in FOLDER on this machine (None: it does)."""
    if not runs_here("bf16"):
        return (f"no bf16 rung: this CPU has no {CPU_BOUND_PRECISIONS['bf16']}; crossrank's bf16 GEMM needs "
                "vdpbf16ps and ONNX Runtime's CPU provider has no bf16 MatMul on x86 (export on such a CPU)")
    reason = unsupported_tokenizer(folder / TOKENIZER_FILE)
    if reason:
        return f"no bf16 rung: crossrank's engine, the only one that runs it, cannot read the tokenizer ({reason})"
    return None


def bf16_source(folder: Path, manifest: dict[str, Any]) -> str:
    """The fp32 graph the bf16 graph is made from: the fp32 engine graph where the export kept one
    (attention, GELU and LayerNorm already on crossrank's kernels), else the standard fp32 graph."""
    engine = (manifest.get("engine_files") or {}).get("fp32")
    return engine if engine and (folder / engine).is_file() else FP32_FILE


def bf16_step(folder: Path, manifest: dict[str, Any], report: dict[str, Any], sets: Sequence[PoolSet],
              thresholds: GateThresholds | None, *, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Write FOLDER/model.bf16.engine.onnx and measure it against fp32 on SETS (their reference
    scores already set); record report["bf16"], and files.bf16 and its checksum in MANIFEST.

    Returns:
        report.json's "bf16" entry: the file, the graph it came from, the ops made, the agreement
        per pool set, whether the gate's thresholds pass (on report["gated_on"]), or "skipped".
    """
    reason = why_no_bf16(folder)
    if reason:
        say(f"  {reason}")
        report["bf16"] = {"skipped": reason}
        return report["bf16"]
    source = bf16_source(folder, manifest)
    counts = write_bf16_graph(folder / source, folder / BF16_FILE)
    if not counts[OP]:
        report["bf16"] = {"skipped": f"no bf16 rung: {source} has no MatMul on a constant weight"}
        return report["bf16"]
    gate_sets = report["gated_on"]
    try:
        agreement = rung_agreement(folder, folder / BF16_FILE, sets, thresholds or GateThresholds(), gate_sets,
                                   precision="bf16")
    except (RuntimeError, ValueError) as error:  # a graph the kernel cannot take costs the rung, not the export
        (folder / BF16_FILE).unlink()
        report["bf16"] = {"skipped": f"no bf16 rung: the engine failed on the bf16 graph of {source}: {error}"}
        say(f"  {report['bf16']['skipped']}")
        return report["bf16"]
    metrics, passed = agreement["metrics"], agreement["passed"]
    manifest["files"]["bf16"] = BF16_FILE
    manifest.setdefault("checksums_sha256", {})[BF16_FILE] = sha256_file(folder / BF16_FILE)
    m = metrics[gate_sets[0]]
    say(f"  bf16 ({counts[OP]} MatMuls on crossrank's GEMM, from {source}): top-10 overlap "
        f"{m['top10_overlap']:.3f}, Kendall tau {m['kendall_tau']:.3f}" + (" — passes" if passed else ""))
    report["bf16"] = {"file": BF16_FILE, "from": source, "ops": counts, **agreement}
    return report["bf16"]
