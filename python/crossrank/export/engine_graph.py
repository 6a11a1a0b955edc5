"""Engine graphs: a bundle's ONNX graphs with their slowest operators moved onto crossrank's
kernels (ONNX Runtime custom ops, domain ``ai.crossrank``, ``csrc/runtime/custom_ops.h``).

Three rewrites, each measured on MiniLM pairs (README, "Where the time goes"):

- **Attention.** ONNX Runtime runs a BERT layer's attention as one (Q)Attention node; its CPU core
  (two small single-precision GEMMs per head around a softmax) took ~30 % of int8 time. Each such
  node becomes the same QKV projection as ordinary operators (``MatMulInteger`` with its scales and
  bias for ``QAttention``, which ONNX Runtime fuses into ``DynamicQuantizeMatMul`` like every other
  int8 MatMul; ``MatMul`` + bias for fp32 ``Attention``) followed by ``SelfAttention``.
- **GELU.** ``com.microsoft.Gelu`` (erf) becomes ``Gelu``, about twice as fast.
- **Residual LayerNorm.** ``Add`` + ``LayerNormalization`` on the residual stream become
  ``AddLayerNorm``, one pass over rows.

Only crossrank's engine registers these operators, so a bundle keeps its standard graphs as well:
the fidelity report, the quality gate and the other engines of the benchmark read those, and the
export checks that both give the same scores before it lists an engine graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DOMAIN = "ai.crossrank"
_MS = "com.microsoft"
# Attributes that keep the plain semantics the kernel implements (bidirectional, no extras).
_PLAIN_ATTRIBUTES = {"num_heads", "mask_filter_value", "unidirectional"}


def _key_lengths_producers(graph) -> set[str]:
    """Outputs that hold one key length per sequence: ReduceSum(mask, axes=[1], keepdims=0), the
    mask index ONNX Runtime's optimizer builds for right-padded batches."""
    from onnx import helper, numpy_helper

    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    out = set()
    for node in graph.node:
        if node.op_type != "ReduceSum" or node.domain not in ("", "ai.onnx"):
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        axes = list(attrs["axes"]) if "axes" in attrs else (
            constants[node.input[1]].tolist() if len(node.input) > 1 and node.input[1] in constants else None)
        if attrs.get("keepdims", 1) == 0 and axes in ([1], [-1]):
            out.add(node.output[0])
    return out


def _is_plain(node, key_lengths: set[str], weight_shapes: dict[str, list[int]]) -> bool:
    from onnx import helper

    if node.domain != _MS or node.op_type not in ("Attention", "QAttention"):
        return False
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attrs) - _PLAIN_ATTRIBUTES or attrs.get("unidirectional", 0) != 0:
        return False
    # The AVX-512 kernel covers heads 32 and 64 wide (MiniLM, BERT); others would run the slower
    # portable loops, so ONNX Runtime keeps them.
    shape = weight_shapes.get(node.input[1], [])
    if len(shape) != 2 or shape[1] % (3 * attrs["num_heads"]) or shape[1] // (3 * attrs["num_heads"]) not in (32, 64):
        return False
    if attrs.get("mask_filter_value", -10000.0) > -10000.0:  # masked keys must get no weight
        return False
    mask_slot, last_slot = (3, 3) if node.op_type == "Attention" else (5, 7)
    extras = [name for name in node.input[last_slot + 1:] if name]  # past state, attention bias, ...
    return len(node.input) > mask_slot and node.input[mask_slot] in key_lengths and not extras


def _fuse_residual_layer_norms(graph, nodes: list) -> list:
    """Replace Add + LayerNormalization over the last axis by AddLayerNorm where the Add sums the
    residual stream (one input comes out of a LayerNormalization) with a tensor of its shape and
    feeds nothing but that LayerNormalization. Other Adds may broadcast (e.g. the position
    embeddings): they stay."""
    from onnx import helper

    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_outputs = {o.name for o in graph.output}
    stream = {n.output[0] for n in nodes if n.op_type == "LayerNormalization" and n.domain in ("", "ai.onnx")}
    fused: dict[str, object] = {}  # LayerNormalization name -> its Add
    for node in nodes:
        if node.op_type != "Add" or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
            continue
        users = consumers.get(node.output[0], [])
        if len(users) != 1 or node.output[0] in graph_outputs or not stream & set(node.input):
            continue
        norm = users[0]
        attrs = {a.name: helper.get_attribute_value(a) for a in norm.attribute}
        if (norm.op_type == "LayerNormalization" and norm.domain in ("", "ai.onnx") and len(norm.input) == 3
                and norm.input[0] == node.output[0] and attrs.get("axis", -1) == -1
                and not [o for o in norm.output[1:] if o]):
            fused[norm.name or norm.output[0]] = node
    adds = {id(add) for add in fused.values()}
    out = []
    for node in nodes:
        if id(node) in adds:
            continue
        add = fused.get(node.name or node.output[0]) if node.op_type == "LayerNormalization" else None
        if add is None:
            out.append(node)
            continue
        epsilon = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-5)
        out.append(helper.make_node("AddLayerNorm", [*add.input, node.input[1], node.input[2]], [node.output[0]],
                                    name=node.name, domain=DOMAIN, epsilon=float(epsilon)))
    return out


def make_engine_graph(model) -> tuple[Any, dict[str, int]]:
    """Return (a copy of MODEL as an engine graph, how many nodes of each crossrank op it got).

    Attention nodes with other semantics (causal, past state, extra inputs, a raw 2-D mask) or
    heads the AVX-512 kernel does not cover are left as they are, so the result always computes
    what MODEL computes.
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    key_lengths = _key_lengths_producers(graph)
    weight_shapes = {init.name: list(init.dims) for init in graph.initializer}
    nodes, split = [], 0
    for node in graph.node:
        if node.domain == _MS and node.op_type == "Gelu" and not node.attribute:
            nodes.append(helper.make_node("Gelu", list(node.input), list(node.output), name=node.name,
                                          domain=DOMAIN))
            continue
        if not _is_plain(node, key_lengths, weight_shapes):
            nodes.append(node)
            continue
        split += 1
        name = node.name or f"attention_{split}"
        heads = next(helper.get_attribute_value(a) for a in node.attribute if a.name == "num_heads")
        qkv = f"{name}/qkv"
        if node.op_type == "QAttention":
            x, weight, bias, x_scale, w_scale, mask = node.input[:6]
            x_zero, w_zero = (list(node.input[6:8]) + ["", ""])[:2]
            # The quantizer's own pattern for an int8 MatMul: ONNX Runtime fuses it, with the
            # DynamicQuantizeLinear before it, into one DynamicQuantizeMatMul carrying the bias.
            nodes += [
                helper.make_node("Mul", [x_scale, w_scale], [f"{name}/scales"], name=f"{name}/scales"),
                helper.make_node("MatMulInteger", [x, weight, x_zero, w_zero], [f"{name}/int32"],
                                 name=f"{name}/matmul"),
                helper.make_node("Cast", [f"{name}/int32"], [f"{name}/float"], name=f"{name}/cast",
                                 to=TensorProto.FLOAT),
                helper.make_node("Mul", [f"{name}/float", f"{name}/scales"], [f"{name}/product"],
                                 name=f"{name}/dequantize"),
                helper.make_node("Add", [bias, f"{name}/product"], [qkv], name=f"{name}/bias"),
            ]
        else:
            x, weight, bias, mask = node.input[:4]
            nodes += [
                helper.make_node("MatMul", [x, weight], [f"{name}/product"], name=f"{name}/matmul"),
                helper.make_node("Add", [bias, f"{name}/product"], [qkv], name=f"{name}/bias"),
            ]
        nodes.append(helper.make_node("SelfAttention", [qkv, mask], list(node.output[:1]), name=f"{name}/core",
                                      domain=DOMAIN, num_heads=heads))
    nodes = _fuse_residual_layer_norms(graph, nodes)
    del graph.node[:]
    graph.node.extend(nodes)
    if any(n.domain == DOMAIN for n in graph.node) and not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    counts = {op: sum(n.op_type == op and n.domain == DOMAIN for n in graph.node)
              for op in ("SelfAttention", "Gelu", "AddLayerNorm")}
    return model, counts


def write_engine_graph(source: str | Path, target: str | Path) -> dict[str, int]:
    """Write SOURCE's engine graph to TARGET; returns how many nodes of each crossrank op it has
    (all 0: nothing to gain, and nothing is written)."""
    import onnx

    model, counts = make_engine_graph(onnx.load(str(source)))
    if any(counts.values()):
        onnx.save(model, str(target))
    return counts
