"""SmoothQuant-style migration of activation outliers into the weights, for static int8.

A MatMul ``x @ W`` computes the same as ``(x / s) @ (diag(s) W)`` for any per-channel ``s > 0``.
Channels of ``x`` with a large range (LayerNorm outputs of BERT carry a few) force one coarse
activation scale on every channel; dividing them by ``s`` (and multiplying the matching weight rows,
which have one int8 scale per output column and so absorb it) shares the difficulty between the two
(``s = max|x|^alpha / max|W|^(1 - alpha)``, Xiao et al. 2023, alpha chosen on calibration pairs).

Where ``1 / s`` goes, at no run-time cost:

- **Attention output projection** (its input is the attention's context, linear in V): V's weight
  columns and bias are divided by ``s`` inside the fused Attention's QKV weight: an fp32 rewrite.
- **Every other MatMul** (the FFN's, whose inputs are also the residual stream or a GELU output, so
  nothing upstream may change): a ``Mul(x, 1/s)`` node is inserted for calibration and quantization,
  then :func:`absorb_smoothing` removes it by giving the QuantizeLinear before the MatMul one scale
  per channel (``a * s``, axis -1) while its DequantizeLinear keeps the one scale ``a`` the integer
  GEMM needs: ``DQ(Q(x; a s); a) = x / s`` rounded, the same pass as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SMOOTH_SUFFIX = "/smooth"  # name of the inserted Mul node (MatMul name + suffix)
ATTENTION_OUTPUT = "attention_output"
MUL = "mul"


@dataclass(frozen=True)
class SmoothTarget:
    """One MatMul whose input may be smoothed: how ``1 / s`` is applied (ATTENTION_OUTPUT or MUL)."""

    matmul: str
    kind: str
    activation: str  # the MatMul's input tensor
    weight: str  # its weight initializer
    v_weight: str = ""  # for ATTENTION_OUTPUT: the packed QKV weight [hidden, 3 x hidden] (V: last third)
    v_bias: str = ""  # ... and its bias [3 x hidden]


def _qkv_source(node: Any, producer: Mapping[str, Any], inits: Mapping[str, Any]) -> tuple[str, str] | None:
    """(packed QKV weight, bias) behind an attention NODE: a fused Attention's own inputs, or for a
    split core (:mod:`crossrank.export.attention_split`) MultiHeadAttention <- Split <- Add(bias) <-
    MatMul(weight). None for anything else."""
    if node.domain != "com.microsoft":
        return None
    if node.op_type == "Attention":
        return node.input[1], node.input[2]
    if node.op_type != "MultiHeadAttention":
        return None
    split = producer.get(node.input[2])
    add = producer.get(split.input[0]) if split is not None and split.op_type == "Split" else None
    if add is None or add.op_type != "Add":
        return None
    bias = next((i for i in add.input if i in inits), None)
    matmul = next((producer[i] for i in add.input if i in producer), None)
    if bias is None or matmul is None or matmul.op_type != "MatMul" or matmul.input[1] not in inits:
        return None
    return matmul.input[1], bias


def smooth_targets(model: Any, *, exclude: Iterable[str] = ()) -> list[SmoothTarget]:
    """The MatMuls of a fused fp32 MODEL (an onnx ModelProto) with a 2-D weight initializer.

    Args:
        model: the fused fp32 graph.
        exclude: MatMul names to leave alone.
    """
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    skip = set(exclude)
    out = []
    for node in graph.node:
        if node.op_type != "MatMul" or node.name in skip or node.input[1] not in inits:
            continue
        if len(inits[node.input[1]].dims) != 2:
            continue
        src = producer.get(node.input[0])
        qkv = _qkv_source(src, producer, inits) if src is not None else None
        if qkv is not None:
            out.append(SmoothTarget(node.name, ATTENTION_OUTPUT, node.input[0], node.input[1], *qkv))
        else:
            out.append(SmoothTarget(node.name, MUL, node.input[0], node.input[1]))
    return out


def smoothing_factors(act_absmax: np.ndarray, weight: np.ndarray, alpha: float) -> np.ndarray:
    """``s = max|x|^alpha / max|W row|^(1 - alpha)`` per input channel, clipped to [1e-2, 1e2]."""
    a = np.maximum(np.asarray(act_absmax, np.float64), 1e-5)
    w = np.maximum(np.abs(np.asarray(weight, np.float64)).max(axis=1), 1e-5)
    return np.clip(a ** alpha / w ** (1.0 - alpha), 1e-2, 1e2).astype(np.float32)


def _init_array(inits: dict[str, Any], name: str) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(inits[name]).astype(np.float32)


def _set_init(inits: dict[str, Any], name: str, value: np.ndarray) -> None:
    from onnx import numpy_helper

    inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value, np.float32), name))


def _fold_into_v(inits: dict[str, Any], target: SmoothTarget, s: np.ndarray) -> None:
    """Divide the V part (last third) of the packed QKV weight columns and bias by S."""
    weight, bias = target.v_weight, target.v_bias
    w, b = _init_array(inits, weight), _init_array(inits, bias)
    hidden = w.shape[1] // 3
    if hidden != s.shape[0]:
        raise ValueError(f"{target.matmul}: V width {hidden} (of {weight}) differs from its input width "
                         f"{s.shape[0]}")
    w[:, 2 * hidden:] /= s
    b[2 * hidden:] /= s
    _set_init(inits, weight, w)
    _set_init(inits, bias, b)


def apply_smoothing(fp32: str | Path, out: str | Path, factors: Mapping[str, np.ndarray],
                    targets: Sequence[SmoothTarget]) -> dict[str, Any]:
    """Write FP32 with the smoothing FACTORS (MatMul name -> s) folded in, to OUT.

    The graph at OUT computes what FP32 computes (up to fp32 rounding): weight rows are multiplied
    by ``s`` and the activation divided by it (in V's weights, or a ``Mul`` node that
    :func:`absorb_smoothing` removes after quantization).

    Returns:
        {"folded_into_v": [...], "mul_nodes": [...]}: the MatMuls smoothed, by where 1/s went.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = {n.name: n for n in graph.node}
    folded, muls, new_nodes = [], [], {}
    for t in targets:
        s = factors.get(t.matmul)
        if s is None:
            continue
        w = _init_array(inits, t.weight)
        _set_init(inits, t.weight, w * s[:, None])
        if t.kind == ATTENTION_OUTPUT:
            _fold_into_v(inits, t, s)
            folded.append(t.matmul)
            continue
        name = t.matmul + SMOOTH_SUFFIX
        graph.initializer.append(numpy_helper.from_array((1.0 / s).astype(np.float32), name + "_inv"))
        new_nodes[t.matmul] = helper.make_node("Mul", [t.activation, name + "_inv"], [name + "_output"], name=name)
        nodes[t.matmul].input[0] = name + "_output"
        muls.append(t.matmul)
    ordered = []
    for node in graph.node:
        if node.name in new_nodes:
            ordered.append(new_nodes[node.name])
        ordered.append(node)
    del graph.node[:]
    graph.node.extend(ordered)
    onnx.save(model, str(out))
    return {"folded_into_v": folded, "mul_nodes": muls}


def absorb_smoothing(path: str | Path) -> int:
    """Remove the smoothing Muls of the quantized graph at PATH (rewritten in place).

    Each ``Mul(x, 1/s) -> QuantizeLinear(scale a, zero point z)`` becomes
    ``QuantizeLinear(x, a * s, z)`` per channel (axis -1); the DequantizeLinear after it keeps the
    one scale ``a``. A Mul whose output feeds anything but one QuantizeLinear (its MatMul stayed
    fp32) stays as it is. Returns the number of Muls removed.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    removed = set()
    for node in graph.node:
        if node.op_type != "Mul" or not node.name.endswith(SMOOTH_SUFFIX):
            continue
        users = consumers.get(node.output[0], [])
        if len(users) != 1 or users[0].op_type != "QuantizeLinear":
            continue
        q = users[0]
        inv = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        scale = numpy_helper.to_array(inits[q.input[1]]).astype(np.float32).reshape(())
        zero = numpy_helper.to_array(inits[q.input[2]]).reshape(())
        graph.initializer.extend([
            numpy_helper.from_array((scale / inv).astype(np.float32), q.name + "_channel_scale"),
            numpy_helper.from_array(np.full(inv.shape, zero, dtype=zero.dtype), q.name + "_channel_zero_point")])
        q.input[0], q.input[1], q.input[2] = node.input[0], q.name + "_channel_scale", q.name + "_channel_zero_point"
        del q.attribute[:]
        q.attribute.append(onnx.helper.make_attribute("axis", -1))
        removed.add(node.name)
    kept = [n for n in graph.node if n.name not in removed]
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input}
    unused = [i for i in graph.initializer if i.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    onnx.save(model, str(path))
    return len(removed)
