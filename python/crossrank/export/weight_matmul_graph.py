"""Engine graphs of the kernel rungs: the fp32 engine graph with every MatMul on a constant weight
moved onto one of crossrank's GEMMs (domain ``ai.crossrank``, ``csrc/runtime/weight_matmul_ops.h``):

- ``MatMulBf16`` (the bf16 rung): ONNX Runtime's CPU provider has no bf16 MatMul on x86 (1.32
  answers "Could not find an implementation for MatMul(13)" for bfloat16 inputs); weights rounded to
  bf16 and packed once when the session starts, activations rounded on the fly, fp32 sums.
- ``MatMulInt8Token`` (the int8_token rung): weights int8 per column, packed once; each activation
  row (token) quantized on the fly with its own scale, so scores do not depend on batch mates; exact
  int32 sums, dequantized with the bias in the same pass.

The attention core's products follow (``SelfAttention`` gets ``bf16=1``): Q·Kᵀ and the weighted sum
of V multiply in bf16 with fp32 sums where the CPU has AVX512-BF16, ~1.5x faster than fp32 there
(``csrc/kernels/self_attention_bf16_avx512.h``), fp32 elsewhere. Everything else (softmax, GELU,
LayerNorm, the embeddings, the pooler's and classifier's Gemm, a few rows per pair) stays fp32.

The rewrite:

- ``MatMul(x, W)`` with W a 2-D float initializer (not overridable by a graph input) becomes
  ``OP(x, W)``; this includes the QKV projection the engine graph splits out of Attention;
- when the MatMul's output feeds only an ``Add`` of a float initializer of shape ``[N]`` (the
  dense layer's bias), the two become one ``OP(x, W, bias)``;
- when that output then feeds only a ``Gelu`` (crossrank's, or ``com.microsoft.Gelu`` without
  attributes: both the erf form), the GELU moves into the GEMM (``activation="gelu"``): it is
  applied to each result as the GEMM stores it, with the same 16-lane code as crossrank's Gelu
  operator, so the FFN's wide intermediate is written once instead of written, read and written;
- when the biased output instead feeds only crossrank's ``AddLayerNorm`` (the sub-layer's residual
  Add + LayerNormalization, ``engine_graph.py``), that moves into the GEMM too (inputs residual,
  gamma, beta; attribute epsilon): each chunk of rows is normalized as soon as the GEMM has
  written it, while it is in cache, with the same kernel, so the result is the same bits.
"""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path
from typing import Any

from crossrank.export.engine_graph import DOMAIN

BF16_OP = "MatMulBf16"
INT8_TOKEN_OP = "MatMulInt8Token"


def _float_initializers(graph) -> dict[str, list[int]]:
    """{name: shape} of GRAPH's float initializers that no graph input of the same name overrides."""
    from onnx import TensorProto

    inputs = {i.name for i in graph.input}
    return {i.name: list(i.dims) for i in graph.initializer
            if i.data_type == TensorProto.FLOAT and i.name not in inputs}


def _bias_add(node, consumers: dict[str, list], outputs: set[str], constants: dict[str, list[int]],
              columns: int) -> tuple[Any, str] | None:
    """(the Add, its bias) when NODE's output feeds only an Add of a [COLUMNS] constant, else None."""
    users = consumers.get(node.output[0], [])
    if len(users) != 1 or node.output[0] in outputs:
        return None
    add = users[0]
    if add.op_type != "Add" or add.domain not in ("", "ai.onnx") or len(add.input) != 2:
        return None
    other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
    if other == node.output[0] or constants.get(other) != [columns]:
        return None
    return add, other


def _sole_user(output: str, consumers: dict[str, list], outputs: set[str]):
    """The one node OUTPUT feeds, or None when it feeds several or is a graph output."""
    users = consumers.get(output, [])
    return users[0] if len(users) == 1 and output not in outputs else None


def _gelu(output: str, consumers: dict[str, list], outputs: set[str]):
    """The Gelu node when OUTPUT feeds only an erf Gelu (crossrank's or com.microsoft's, no attributes), else None."""
    gelu = _sole_user(output, consumers, outputs)
    if gelu is None or gelu.op_type != "Gelu" or gelu.domain not in (DOMAIN, "com.microsoft") or gelu.attribute:
        return None
    return gelu


def _residual_norm(output: str, consumers: dict[str, list], outputs: set[str]):
    """(the AddLayerNorm, its residual input) when OUTPUT feeds only crossrank's AddLayerNorm as one
    of the two summands (and not both), else None."""
    norm = _sole_user(output, consumers, outputs)
    if norm is None or norm.op_type != "AddLayerNorm" or norm.domain != DOMAIN or len(norm.input) != 4:
        return None
    if list(norm.input[:2]).count(output) != 1:
        return None
    return norm, norm.input[1] if norm.input[0] == output else norm.input[0]


def weight_matmuls(model) -> list[str]:
    """Names of MODEL's MatMuls on a constant 2-D weight (the ones make_weight_matmul_graph rewrites), in graph order."""
    constants = _float_initializers(model.graph)
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.domain in ("", "ai.onnx")
            and len(constants.get(n.input[1], [])) == 2]


def make_weight_matmul_graph(model, op: str, *, skip: Container[str] = (), only: Container[str] | None = None,
                             epilogues: bool = True, bf16_attention: bool = True) -> tuple[Any, dict[str, int]]:
    """Return (a copy of MODEL with its constant-weight MatMuls on OP, counts).

    Args:
        model: an fp32 ONNX ModelProto (the bundle's fp32 engine graph, or its standard graph).
        op: BF16_OP or INT8_TOKEN_OP.
        skip: MatMul names to leave as they are (a second call can put them on the other op).
        only: when given, the only MatMul names to rewrite.
        epilogues: move a following GELU or residual Add + LayerNorm into the GEMM (False: leave
            them as operators of their own, as tests compare).
        bf16_attention: let crossrank's SelfAttention nodes multiply in bf16 (once a MatMul moved).

    Returns:
        The rewritten copy, and {OP: nodes made, "with_bias": of those with the bias fused,
        "with_gelu": of those with the GELU that followed fused, "with_layer_norm": of those with
        the residual Add + LayerNorm that followed fused, "MatMul_left": MatMuls left as they were (no constant 2-D weight, skipped, or not in ONLY),
        "bf16_attention": SelfAttention nodes set to bf16 products}.
    """
    import onnx
    from onnx import helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    constants = _float_initializers(graph)
    outputs = {o.name for o in graph.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    # Ids of the Add, Gelu and AddLayerNorm nodes folded into a GEMM -> the GEMM when it takes that
    # node's place (the last one folded: the residual may be computed after the MatMul), else None.
    nodes, folded = [], {}
    counts = {op: 0, "with_bias": 0, "with_gelu": 0, "with_layer_norm": 0, "MatMul_left": 0, "bf16_attention": 0}
    for node in graph.node:
        if id(node) in folded:
            if folded[id(node)] is not None:
                nodes.append(folded[id(node)])
            continue
        if node.op_type != "MatMul" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        shape = constants.get(node.input[1])
        if shape is None or len(shape) != 2 or node.name in skip or (only is not None and node.name not in only):
            counts["MatMul_left"] += 1
            nodes.append(node)
            continue
        bias = _bias_add(node, consumers, outputs, constants, shape[1])
        inputs, output = list(node.input), node.output[0]
        last = node  # the node whose place the GEMM takes
        if bias is not None:
            last = bias[0]
            inputs.append(bias[1])
            output = bias[0].output[0]
            counts["with_bias"] += 1
        attributes = {}
        gelu = _gelu(output, consumers, outputs) if epilogues else None
        if gelu is not None:
            last = gelu
            output = gelu.output[0]
            attributes["activation"] = "gelu"
            counts["with_gelu"] += 1
        norm = (_residual_norm(output, consumers, outputs) if epilogues and bias is not None and gelu is None
                else None)
        if norm is not None:  # (bias required: an absent optional input would have to be named "")
            last = norm[0]
            inputs += [norm[1], *norm[0].input[2:]]
            output = norm[0].output[0]
            attributes["epsilon"] = next(a.f for a in norm[0].attribute if a.name == "epsilon")
            counts["with_layer_norm"] += 1
        gemm = helper.make_node(op, inputs, [output], name=f"{node.name or output}/{op}", domain=DOMAIN,
                                **attributes)
        for absorbed in (bias[0] if bias else None, gelu, norm[0] if norm else None):
            if absorbed is not None:
                folded[id(absorbed)] = gemm if absorbed is last else None
        if last is node:
            nodes.append(gemm)
        counts[op] += 1
    for node in nodes:
        if bf16_attention and counts[op] and node.op_type == "SelfAttention" and node.domain == DOMAIN:
            if not any(a.name == "bf16" for a in node.attribute):
                node.attribute.append(helper.make_attribute("bf16", 1))
            counts["bf16_attention"] += 1
    del graph.node[:]
    graph.node.extend(nodes)
    if counts[op] and not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return model, counts


def write_weight_matmul_graph(source: str | Path, target: str | Path, op: str, *,
                              bf16_attention: bool = True) -> dict[str, int]:
    """Write SOURCE with its constant-weight MatMuls on OP to TARGET (nothing when SOURCE has no
    MatMul on a constant weight); bf16_attention as make_weight_matmul_graph takes it.

    Returns:
        make_weight_matmul_graph's counts.
    """
    import onnx

    model, counts = make_weight_matmul_graph(onnx.load(str(source)), op, bf16_attention=bf16_attention)
    if counts[op]:
        onnx.save(model, str(target))
    return counts
