"""The int8_token rung's fallback: when every MatMul on per-token int8 costs the gate, the few that
cost the rankings most are kept wider (bf16 where this CPU runs it, else fp32) until it passes.

Each MatMul is measured alone: a graph with only that MatMul on ``MatMulInt8Token`` (the rest fp32),
scored on the gate's pools and compared with fp32 as a centered score error
(:func:`crossrank.export.sensitivity.centered_error`). Then the worst are kept wider one more at a
time, each try measured as a whole by the gate's own metrics, at most MAX_KEPT. The same idea as the
static rung's sensitivity fallback, with bf16 as the wider format: crossrank's bf16 GEMM runs at
about half the int8 rate where ONNX Runtime's fp32 MatMul runs at about a quarter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crossrank.bundle import runs_here
from crossrank.export.fidelity import make_scorer, score_pools
from crossrank.export.gate import GateThresholds, PoolSet
from crossrank.export.rungs import rung_agreement
from crossrank.export.sensitivity import centered_error
from crossrank.export.weight_matmul_graph import BF16_OP, INT8_TOKEN_OP, make_weight_matmul_graph, weight_matmuls

MAX_KEPT = 8  # MatMuls kept wider at most (a third of MiniLM's 24)


def token_graph(source, kept: Sequence[str], wide_op: str | None, *,
                bf16_attention: bool = True) -> tuple[Any, dict[str, int]]:
    """SOURCE (fp32 ModelProto) with every constant-weight MatMul on MatMulInt8Token but KEPT, which
    go on WIDE_OP (BF16_OP) or stay fp32 (None); returns the graph and its op counts."""
    model, counts = make_weight_matmul_graph(source, INT8_TOKEN_OP, skip=set(kept), bf16_attention=bf16_attention)
    if kept and wide_op is not None:
        model, wide = make_weight_matmul_graph(model, wide_op, bf16_attention=bf16_attention)
        counts = {**counts, wide_op: wide[wide_op], "MatMul_left": wide["MatMul_left"],
                  **{k: counts[k] + wide[k] for k in ("with_bias", "with_gelu", "with_layer_norm")}}
    return model, counts


def _score_error(folder: Path, path: Path, sets: Sequence[PoolSet], gate_sets: Sequence[str]) -> float:
    scorer = make_scorer(folder, path, precision="int8_token")
    ref, test = [], []
    for ps in sets:
        if ps.name in gate_sets and ps.reference is not None:
            ref += list(ps.reference)
            test += score_pools(scorer, ps.pools)
    return centered_error(ref, test)


def sensitivity(folder: Path, source, sets: Sequence[PoolSet], gate_sets: Sequence[str],
                work: Path) -> dict[str, float]:
    """{MatMul name: score error with only it on per-token int8}, worst first."""
    import onnx

    errors = {}
    for name in weight_matmuls(source):
        # attention in fp32 here: the error measured is this MatMul's alone
        model, _ = make_weight_matmul_graph(source, INT8_TOKEN_OP, only={name}, bf16_attention=False)
        onnx.save(model, str(work))
        errors[name] = _score_error(folder, work, sets, gate_sets)
    return dict(sorted(errors.items(), key=lambda kv: -kv[1]))


def fallback_search(folder: Path, source_path: Path, target: Path, sets: Sequence[PoolSet],
                    thresholds: GateThresholds, gate_sets: Sequence[str], *, bf16_attention: bool = True,
                    say: Callable[[str], None] = print) -> dict[str, Any]:
    """Keep the most sensitive MatMuls wider until the gate passes; write the passing graph to
    TARGET (left as it was when no try passes). bf16_attention: the attention's products in every
    try (make_weight_matmul_graph).

    Returns:
        report.json's "fallback" entry: the wider format, the sensitivity, every try (kept MatMuls,
        top-10 overlap of the first gated set, passed), and, when one passed, its agreement and ops.
    """
    import onnx

    start = time.perf_counter()
    wide_op = BF16_OP if runs_here("bf16") else None
    source = onnx.load(str(source_path))
    work = target.with_name(f".try-{target.name}")
    record: dict[str, Any] = {"kept_on": "bf16" if wide_op else "fp32", "tries": [], "passed": False}
    try:
        errors = sensitivity(folder, source, sets, gate_sets, work)
        record["sensitivity"] = {k: round(v, 4) for k, v in errors.items()}
        ranked = list(errors)
        for k in range(1, min(MAX_KEPT, len(ranked) - 1) + 1):
            model, counts = token_graph(source, ranked[:k], wide_op, bf16_attention=bf16_attention)
            onnx.save(model, str(work))
            agreement = rung_agreement(folder, work, sets, thresholds, gate_sets, precision="int8_token")
            m = agreement["metrics"][gate_sets[0]]
            record["tries"].append({"kept": ranked[:k], "top10_overlap": m["top10_overlap"],
                                    "kendall_tau": m["kendall_tau"], "passed": agreement["passed"]})
            say(f"  int8_token, {k} kept {record['kept_on']}: top-10 overlap {m['top10_overlap']:.3f}, "
                f"Kendall tau {m['kendall_tau']:.3f}" + (" — passes" if agreement["passed"] else ""))
            if agreement["passed"]:
                work.replace(target)
                record.update(passed=True, kept=ranked[:k], ops=counts, agreement=agreement)
                break
    finally:
        work.unlink(missing_ok=True)
        record["seconds"] = round(time.perf_counter() - start, 1)
    return record
