"""The last layer on the first token only: an engine-graph rewrite that changes no score.

A BERT-style cross-encoder's head reads one position of the last hidden state, the first token's
(``Gather(axis=1, indices=0)`` before the pooler). Every other position of the last layer is
computed and thrown away: its attention queries, output projection, FFN and LayerNorms. Only the
keys and values of the last layer's attention need every position. This rewrite lets the last
``SelfAttention`` compute query 0 alone (attribute ``query_rows=1``) and slices the residual stream
that joins after it to its first row, so everything between attention and the head runs on one row
per sequence. On MiniLM-L6 that is ~14 % of a pair's work (README, "Where the time goes").

It applies only where the result is the same computation row for row: every node between the last
attention and the head must compute each output row from the same row of its inputs (MatMul on a
constant weight, elementwise arithmetic with per-feature constants, LayerNorm over features, GELU,
static quantization with constant scales, crossrank's GEMM and LayerNorm ops). Dynamic int8
quantization takes its scale over every row of a tensor, so a graph with ``DynamicQuantizeLinear``
in that stretch keeps all rows (its scores would change). Mean pooling or a head that reads other
positions leaves the graph as it is.
"""

from __future__ import annotations

from typing import Any

DOMAIN = "ai.crossrank"  # engine_graph.DOMAIN, which imports this module
_STANDARD = ("", "ai.onnx")
_MS = "com.microsoft"
# Row-wise operators: each output row is a function of the same row of each input.
_ROW_WISE = {
    _STANDARD: {"MatMul", "MatMulInteger", "Add", "Sub", "Mul", "Div", "Erf", "Tanh", "Relu", "Sigmoid", "Sqrt",
                "Pow", "Cast", "LayerNormalization", "QuantizeLinear", "DequantizeLinear"},
    (_MS,): {"Gelu", "FastGelu", "BiasGelu", "SkipLayerNormalization"},
    (DOMAIN,): {"AddLayerNorm", "Gelu", "MatMulInt8Token", "MatMulBf16"},
}
# Inputs that may be constant matrices (weights): (op, input index).
_WEIGHT_SLOTS = {("MatMul", 1), ("MatMulInteger", 1), ("MatMulInt8Token", 1), ("MatMulBf16", 1)}
# What produces a residual-stream tensor that a row-wise node may read from before the attention.
_STREAM_PRODUCERS = {"LayerNormalization", "AddLayerNorm", "SkipLayerNormalization", "MatMulInt8Token",
                     "MatMulBf16"}


def _row_wise(node) -> bool:
    return any(node.domain in domains and node.op_type in ops for domains, ops in _ROW_WISE.items())


def _constant_ranks(graph) -> dict[str, int]:
    """{name: rank} of every initializer and Constant node output."""
    from onnx import helper

    ranks = {init.name: len(init.dims) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in _STANDARD:
            value = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "value"), None)
            ranks[node.output[0]] = len(value.dims) if value is not None else 0
        elif node.input and all(not name or name in ranks for name in node.input):
            # Computed from constants alone (a static-int8 weight's DequantizeLinear): constant too.
            for out in node.output:
                ranks[out] = max(ranks[name] for name in node.input if name)
    return ranks


def _first_token_readout(graph, nodes: list) -> int | None:
    """Index of the one node that reads the last hidden state's first position (Gather, axis 1,
    scalar index 0), or None."""
    from onnx import helper, numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer if not init.dims}
    for node in nodes:
        if node.op_type == "Constant" and node.domain in _STANDARD:
            value = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "value"), None)
            if value is not None:
                values[node.output[0]] = numpy_helper.to_array(value)
    found = []
    for k, node in enumerate(nodes):
        if node.op_type != "Gather" or node.domain not in _STANDARD or len(node.input) != 2:
            continue
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 0)
        index = values.get(node.input[1])
        if axis == 1 and index is not None and index.ndim == 0 and int(index) == 0:
            found.append(k)
    return found[0] if len(found) == 1 else None


def _walk(start: list[str], step) -> set[int]:
    """Indices of the nodes reached from the tensors START, STEP(tensor) giving (index, tensors next)."""
    seen: set[int] = set()
    stack = list(start)
    while stack:
        for k, names in step(stack.pop()):
            if k not in seen:
                seen.add(k)
                stack.extend(names)
    return seen


def why_not_narrowed(graph) -> str | None:
    """Why narrow_to_first_token leaves GRAPH as it is (None: it narrows it)."""
    return _plan(graph, list(graph.node))[1]


def _plan(graph, nodes: list) -> tuple[dict[str, Any] | None, str | None]:
    """(what to rewrite, None) or (None, why not); nodes are referred to by their index in NODES."""
    ranks = _constant_ranks(graph)
    readout = _first_token_readout(graph, nodes)
    if readout is None:
        return None, "the head reads no single first-token position (Gather axis 1, index 0) of the last layer"
    producers = {o: k for k, n in enumerate(nodes) for o in n.output}
    consumers: dict[str, list[int]] = {}
    for k, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, []).append(k)

    def up(name: str):
        return [(producers[name], [i for i in nodes[producers[name]].input if i])] if name in producers else []

    def down(name: str):
        return [(k, list(nodes[k].output)) for k in consumers.get(name, [])]

    upstream = _walk([nodes[readout].input[0]], up)
    attentions = [k for k in sorted(upstream) if nodes[k].domain == DOMAIN and nodes[k].op_type == "SelfAttention"]
    if not attentions:
        return None, "no crossrank SelfAttention before the head"
    last = attentions[-1]  # graph order is topological
    below = _walk([nodes[last].input[0]], up) | {last}
    region = sorted((upstream & _walk(list(nodes[last].output), down)) - below)
    graph_outputs = {o.name for o in graph.output}
    allowed = set(region) | {readout}
    if nodes[last].output[0] in graph_outputs or set(consumers.get(nodes[last].output[0], [])) - allowed:
        return None, "the last attention's output is read beside the head's path"
    outside: list[str] = []
    for k in region:
        node = nodes[k]
        if not _row_wise(node):
            return None, f"{node.op_type} after the last attention is not row-wise"
        if node.op_type == "LayerNormalization" and any(a.name == "axis" and a.i != -1 for a in node.attribute):
            return None, "a LayerNormalization after the last attention is not over the last axis"
        for slot, name in enumerate(node.input):
            if (node.op_type, slot) in _WEIGHT_SLOTS and name not in ranks:
                return None, f"{node.op_type} after the last attention multiplies two activations"
            if not name or producers.get(name) in allowed or producers.get(name) == last:
                continue
            if name in ranks:
                if ranks[name] > 1 and (node.op_type, slot) not in _WEIGHT_SLOTS:
                    return None, f"{node.op_type} reads a constant of rank {ranks[name]} (not per feature)"
                continue
            source = producers.get(name)
            if source not in below or nodes[source].op_type not in _STREAM_PRODUCERS:
                return None, f"{node.op_type} reads {name!r}, not the residual stream"
            if name not in outside:
                outside.append(name)
        for name in node.output:
            if name in graph_outputs or set(consumers.get(name, [])) - allowed:
                return None, f"{name!r} after the last attention is read elsewhere (all its rows are needed)"
    if producers.get(nodes[readout].input[0]) not in set(region) | {last}:
        return None, "the head does not read the last attention's layer"
    return {"attention": last, "outside": outside, "region": region}, None


def narrow_to_first_token(model) -> bool:
    """Rewrite MODEL (an engine graph, in place) so its last layer after attention runs on the
    first token alone; returns whether it did. See the module docstring for when it applies."""
    from onnx import TensorProto, helper

    graph = model.graph
    nodes = [type(n).FromString(n.SerializeToString()) for n in graph.node]
    plan, _ = _plan(graph, nodes)
    if plan is None:
        return False
    attention = nodes[plan["attention"]]
    attention.attribute.append(helper.make_attribute("query_rows", 1))
    name = attention.name or attention.output[0]
    zero, one = f"{name}/first_token/zero", f"{name}/first_token/one"
    graph.initializer.extend([helper.make_tensor(zero, TensorProto.INT64, [1], [0]),
                              helper.make_tensor(one, TensorProto.INT64, [1], [1])])
    first = {tensor: f"{name}/first_token_{k}" for k, tensor in enumerate(plan["outside"])}
    # Slice(x, starts=[0], ends=[1], axes=[1]): the first row of each sequence.
    slices = [helper.make_node("Slice", [tensor, zero, one, one], [row], name=row) for tensor, row in first.items()]
    for k in plan["region"]:
        node = nodes[k]
        for slot, tensor in enumerate(node.input):
            if tensor in first:
                node.input[slot] = first[tensor]
    # Shapes recorded for the narrowed tensors say "sequence" rows; ONNX Runtime plans buffers by them.
    narrowed = {o for k in [plan["attention"], *plan["region"]] for o in nodes[k].output}
    for info in graph.value_info:
        dims = info.type.tensor_type.shape.dim
        if info.name in narrowed and len(dims) >= 2:
            dims[1].Clear()
            dims[1].dim_value = 1
    at = plan["attention"]
    del graph.node[:]
    graph.node.extend(nodes[:at] + slices + nodes[at:])
    return True
