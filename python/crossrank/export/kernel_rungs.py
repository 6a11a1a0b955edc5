"""The export's kernel rungs: graphs whose MatMuls run on crossrank's own GEMMs
(:mod:`crossrank.export.weight_matmul_graph`), built where this CPU has the instructions and
measured against fp32 on the gate's pool sets like the other rungs.

- ``int8_token`` (model.int8_token.engine.onnx, AVX512-VNNI): int8 with a scale per token, so
  scores do not depend on batch mates and nothing is calibrated;
- ``bf16`` (model.bf16.engine.onnx, AVX512-BF16): bf16 products, fp32 sums.

Both let the attention core multiply in bf16 too where the CPU has AVX512-BF16 (~10 % of int8_token's
speed on MiniLM); with the gate on, a rung that fails so is measured again with fp32 attention
before its fallback search starts.

A CPU without the instructions never runs a kernel rung: the export records why there is none, a
bundle made elsewhere keeps its file but :class:`crossrank.reranker.Reranker` refuses that precision
there and its default falls back (:meth:`crossrank.bundle.Bundle.precision_here`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrank.bundle import (
    BF16_FILE,
    CPU_BOUND_PRECISIONS,
    FP32_FILE,
    INT8_TOKEN_FILE,
    TOKENIZER_FILE,
    runs_here,
    sha256_file,
)
from crossrank.export.gate import GateThresholds, PoolSet
from crossrank.export.onnx_scorer import unsupported_tokenizer
from crossrank.export.rungs import rung_agreement
from crossrank.export.token_fallback import fallback_search
from crossrank.export.weight_matmul_graph import BF16_OP, INT8_TOKEN_OP, write_weight_matmul_graph


@dataclass(frozen=True)
class KernelRung:
    """One rung on one of crossrank's GEMMs.

    Attributes:
        precision: the rung's name (a key of CPU_BOUND_PRECISIONS).
        op: the custom operator its MatMuls become.
        file: the bundle file it is written to.
        gemm: what runs the MatMuls, for messages.
        missing: why ONNX Runtime cannot run it instead, for the skip message.
        fallback: whether a rung that fails the gate searches for the MatMuls to keep wider
            (:mod:`crossrank.export.token_fallback`).
    """

    precision: str
    op: str
    file: str
    gemm: str
    missing: str
    fallback: bool = False


INT8_TOKEN = KernelRung("int8_token", INT8_TOKEN_OP, INT8_TOKEN_FILE, "crossrank's int8 GEMM with a scale per token",
                        "ONNX Runtime's int8 MatMuls take one activation scale per tensor, not per row",
                        fallback=True)
BF16 = KernelRung("bf16", BF16_OP, BF16_FILE, "crossrank's bf16 GEMM",
                  "ONNX Runtime's CPU provider has no bf16 MatMul on x86")
KERNEL_RUNGS = (INT8_TOKEN, BF16)


def why_not_built(rung: KernelRung, folder: Path) -> str | None:
    """Why the export builds no RUNG in FOLDER on this machine (None: it does)."""
    if not runs_here(rung.precision):
        return (f"no {rung.precision} rung: this CPU has no {CPU_BOUND_PRECISIONS[rung.precision]}; {rung.gemm} "
                f"needs it and {rung.missing} (export on such a CPU)")
    reason = unsupported_tokenizer(folder / TOKENIZER_FILE)
    if reason:
        return (f"no {rung.precision} rung: crossrank's engine, the only one that runs it, cannot read the "
                f"tokenizer ({reason})")
    return None


def kernel_source(folder: Path, manifest: dict[str, Any]) -> str:
    """The fp32 graph a kernel rung's graph is made from: the fp32 engine graph where the export kept
    one (attention, GELU and LayerNorm already on crossrank's kernels), else the standard fp32 graph."""
    engine = (manifest.get("engine_files") or {}).get("fp32")
    return engine if engine and (folder / engine).is_file() else FP32_FILE


def kernel_rung_step(rung: KernelRung, folder: Path, manifest: dict[str, Any], report: dict[str, Any],
                     sets: Sequence[PoolSet], thresholds: GateThresholds | None, *,
                     say: Callable[[str], None] = print) -> dict[str, Any]:
    """Write RUNG's graph into FOLDER and measure it against fp32 on SETS (their reference scores
    already set); record report[rung.precision], and its file and checksum in MANIFEST.

    Returns:
        report.json's entry for the rung: the file, the graph it came from, the ops made, the
        agreement per pool set, whether the gate's thresholds pass (on report["gated_on"]), or "skipped".
    """
    name = rung.precision
    reason = why_not_built(rung, folder)
    if reason:
        say(f"  {reason}")
        report[name] = {"skipped": reason}
        return report[name]
    source = kernel_source(folder, manifest)
    counts = write_weight_matmul_graph(folder / source, folder / rung.file, rung.op)
    if not counts[rung.op]:
        report[name] = {"skipped": f"no {name} rung: {source} has no MatMul on a constant weight"}
        return report[name]
    gate_sets = report["gated_on"]
    try:
        agreement = rung_agreement(folder, folder / rung.file, sets, thresholds or GateThresholds(), gate_sets,
                                   precision=name)
    except (RuntimeError, ValueError) as error:  # a graph the kernel cannot take costs the rung, not the export
        (folder / rung.file).unlink()
        report[name] = {"skipped": f"no {name} rung: the engine failed on the {name} graph of {source}: {error}"}
        say(f"  {report[name]['skipped']}")
        return report[name]
    attention, bf16_try = "bf16" if counts.get("bf16_attention") else "fp32", None
    if attention == "bf16" and thresholds is not None and not agreement["passed"]:  # the gate on
        # The attention's bf16 products (~10 % of the rung's speed) go first: the GEMMs are the rung.
        bf16_try = {s: {k: m[k] for k in ("top10_overlap", "kendall_tau")} for s, m in agreement["metrics"].items()}
        m = agreement["metrics"][gate_sets[0]]
        say(f"  {name}: fails the gate with bf16 products in attention (top-10 overlap {m['top10_overlap']:.3f}, "
            f"Kendall tau {m['kendall_tau']:.3f}); trying fp32 attention")
        counts = write_weight_matmul_graph(folder / source, folder / rung.file, rung.op, bf16_attention=False)
        agreement = rung_agreement(folder, folder / rung.file, sets, thresholds or GateThresholds(), gate_sets,
                                   precision=name)
        attention = "fp32"
    fallback = None
    if rung.fallback and thresholds is not None and not agreement["passed"]:  # the gate on: the default is at stake
        say(f"  {name}: every MatMul on {rung.gemm} fails the gate; keeping the most sensitive wider")
        fallback = fallback_search(folder, folder / source, folder / rung.file, sets, thresholds, gate_sets,
                                   bf16_attention=attention == "bf16", say=say)
        if fallback["passed"]:
            agreement, counts = fallback.pop("agreement"), fallback["ops"]
    metrics, passed = agreement["metrics"], agreement["passed"]
    manifest["files"][name] = rung.file
    manifest.setdefault("checksums_sha256", {})[rung.file] = sha256_file(folder / rung.file)
    m = metrics[gate_sets[0]]
    say(f"  {name} ({counts[rung.op]} MatMuls on {rung.gemm}, {attention} attention products, from {source}): "
        f"top-10 overlap "
        f"{m['top10_overlap']:.3f}, Kendall tau {m['kendall_tau']:.3f}" + (" — passes" if passed else ""))
    report[name] = {"file": rung.file, "from": source, "ops": counts, "attention_products": attention, **agreement}
    if bf16_try is not None:
        report[name]["bf16_attention_try"] = bf16_try
    if fallback is not None:
        report[name]["fallback"] = fallback
    return report[name]
