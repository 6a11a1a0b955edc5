"""Per-tensor sensitivity of a static int8 graph, and the few MatMuls kept in fp32 because of it.

Each quantized MatMul of a QDQ graph is measured alone (every other MatMul restored to fp32), as
the score error it causes against fp32 on the gate's pools (:func:`centered_error`). Errors of
separate tensors add up nearly in quadrature, so the tensors are kept in fp32 worst first until
the predicted error of the rest is within the budget; the result is then measured as a whole.
Restoring a MatMul to fp32 is graph surgery on the calibrated graph (its input before the
QuantizeLinear, its fp32 weight back), so no tensor's calibration changes and nothing is
calibrated twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def centered_error(ref: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> float:
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


def _fp32_source(name: str, producer: Mapping[str, Any]) -> str | None:
    """The fp32 tensor behind NAME when NAME is a QuantizeLinear -> DequantizeLinear copy of an activation."""
    dq = producer.get(name)
    q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
    return q.input[0] if q is not None and q.op_type == "QuantizeLinear" else None


def quantized_matmuls(model: Any) -> dict[str, str]:
    """{MatMul name: its fp32 input before QuantizeLinear} of the QDQ MODEL (onnx ModelProto)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    out = {}
    for node in model.graph.node:
        source = _fp32_source(node.input[0], producer) if node.op_type == "MatMul" else None
        if source is not None:
            out[node.name] = source
    return out


def _prune(graph: Any) -> None:
    """Drop nodes whose outputs nothing reads (and initializers no node reads)."""
    outputs = {o.name for o in graph.output}
    while True:
        used = outputs | {i for n in graph.node for i in n.input}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def restore_fp32(qdq: Any, fp32: Any, names: Iterable[str]) -> Any:
    """A copy of the QDQ model with the MatMuls NAMES back in fp32 (input and weight of FP32, the
    graph QDQ was quantized from)."""
    import onnx

    model = onnx.ModelProto.FromString(qdq.SerializeToString())
    graph = model.graph
    inputs = quantized_matmuls(model)
    fp32_nodes = {n.name: n for n in fp32.graph.node if n.op_type == "MatMul"}
    fp32_inits = {i.name: i for i in fp32.graph.initializer}
    have = {i.name for i in graph.initializer}
    wanted = set(names)
    unknown = wanted - set(inputs)
    if unknown:
        raise ValueError(f"not quantized MatMuls of the graph: {sorted(unknown)}")
    producer = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.name not in wanted:
            continue
        node.input[0] = inputs[node.name]
        activation = _fp32_source(node.input[1], producer)  # activation x activation (attention scores)
        weight = fp32_nodes[node.name].input[1]
        node.input[1] = activation or weight
        if activation is None and weight not in have and weight in fp32_inits:
            graph.initializer.append(fp32_inits[weight])
            have.add(weight)
    _prune(graph)
    return model


def measure_each(qdq_path: str | Path, fp32_path: str | Path, work: Path,
                 score_error: Callable[[Path], float]) -> list[dict[str, Any]]:
    """Score error of each quantized MatMul alone (all others fp32), worst first.

    Args:
        qdq_path: the calibrated QDQ graph.
        fp32_path: the fp32 graph it was quantized from.
        work: a folder for the one-tensor graphs.
        score_error: a graph's score error against fp32 (e.g. :func:`centered_error` on pools).
    """
    import onnx

    qdq, fp32 = onnx.load(str(qdq_path)), onnx.load(str(fp32_path))
    names = list(quantized_matmuls(qdq))
    out = []
    for name in names:
        path = work / "one-tensor.onnx"
        onnx.save(restore_fp32(qdq, fp32, [n for n in names if n != name]), str(path))
        out.append({"node": name, "score_error": score_error(path)})
    path = work / "one-tensor.onnx"
    path.unlink(missing_ok=True)
    return sorted(out, key=lambda e: -e["score_error"])


def predicted_fallback(errors: Sequence[Mapping[str, Any]], total: float, budget: float,
                       max_kept: int) -> list[str]:
    """The MatMuls to keep in fp32, worst first, until the error predicted for the rest
    (TOTAL^2 minus the squared errors of those kept) is within BUDGET, at most MAX_KEPT of them."""
    kept: list[str] = []
    left = total ** 2
    for e in sorted(errors, key=lambda e: -e["score_error"]):
        if left <= budget ** 2 or len(kept) >= max_kept:
            break
        kept.append(e["node"])
        left -= e["score_error"] ** 2
    return kept
