"""Fused Attention split into its QKV projection and an attention core, so static int8 reaches the
projection too.

ONNX Runtime quantizes a fused ``com.microsoft.Attention`` only dynamically (``QAttention``), which
would make a pair's score depend on its batch mates again. Before static quantization each plain
Attention node (the kind crossrank's kernel takes, :func:`crossrank.export.engine_graph.attention_misfit`)
becomes::

    MatMul(x, W_qkv) -> Add(b_qkv) -> Split(3, last axis) -> com.microsoft.MultiHeadAttention(q, k, v, mask)

The MatMul is then an ordinary MatMul the static quantizer calibrates; ONNX Runtime alone runs the
core as MultiHeadAttention (the standard graph: fidelity, peers), and the engine graph turns
``Split + MultiHeadAttention`` into crossrank's ``SelfAttention`` on the same packed QKV tensor
(:func:`crossrank.export.engine_graph.make_engine_graph`).
"""

from __future__ import annotations

from typing import Any

from crossrank.export.engine_graph import attention_misfit, key_lengths_producers

MS = "com.microsoft"


def _split_nodes(node: Any, hidden: int, name: str) -> list[Any]:
    from onnx import helper

    x, weight, bias, mask = node.input[:4]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    core = {"num_heads": attrs["num_heads"]}
    if "mask_filter_value" in attrs:
        core["mask_filter_value"] = float(attrs["mask_filter_value"])
    return [
        helper.make_node("MatMul", [x, weight], [f"{name}/qkv_product"], name=f"{name}/qkv/MatMul"),
        helper.make_node("Add", [bias, f"{name}/qkv_product"], [f"{name}/qkv"], name=f"{name}/qkv/Add"),
        helper.make_node("Split", [f"{name}/qkv", f"{name}/qkv_split"], [f"{name}/q", f"{name}/k", f"{name}/v"],
                         name=f"{name}/qkv/Split", axis=-1),
        helper.make_node("MultiHeadAttention", [f"{name}/q", f"{name}/k", f"{name}/v", "", mask],
                         list(node.output[:1]), name=f"{name}/core", domain=MS, **core),
    ]


def split_attention(model: Any) -> tuple[Any, int]:
    """(a copy of the fused fp32 MODEL with every plain Attention node split, how many were).

    Nodes crossrank's kernel would not take (causal, past state, extra inputs, another mask)
    stay fused: the result always computes what MODEL computes.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    key_lengths = key_lengths_producers(graph)
    weight_shapes = {init.name: list(init.dims) for init in graph.initializer}
    nodes, split = [], 0
    for node in graph.node:
        if node.op_type != "Attention" or node.domain != MS or attention_misfit(node, key_lengths, weight_shapes):
            nodes.append(node)
            continue
        split += 1
        name = node.name or f"attention_{split}"
        hidden = weight_shapes[node.input[1]][1] // 3
        graph.initializer.append(numpy_helper.from_array(np.array([hidden] * 3, np.int64), f"{name}/qkv_split"))
        nodes += _split_nodes(node, hidden, name)
    del graph.node[:]
    graph.node.extend(nodes)
    return model, split
