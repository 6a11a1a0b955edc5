"""Engine graphs: a bundle's ONNX graphs with their slowest operators moved onto crossrank's
kernels (ONNX Runtime custom ops, domain ``ai.crossrank``, ``csrc/runtime/custom_ops.h``).

Four rewrites, each measured on MiniLM pairs (README, "Where the time goes"):

- **Attention.** ONNX Runtime runs a BERT layer's attention as one (Q)Attention node; its CPU core
  (two small single-precision GEMMs per head around a softmax) took ~30 % of int8 time. Each such
  node becomes the same QKV projection as ordinary operators (``MatMulInteger`` with its scales and
  bias for ``QAttention``, which ONNX Runtime fuses into ``DynamicQuantizeMatMul`` like every other
  int8 MatMul; ``MatMul`` + bias for fp32 ``Attention``) followed by ``SelfAttention``.
- **GELU.** ``com.microsoft.Gelu`` (erf) becomes ``Gelu``, about twice as fast.
- **Residual LayerNorm.** ``Add`` + ``LayerNormalization`` on the residual stream become
  ``AddLayerNorm``, one pass over rows.
- **First-token tail.** A head that reads only the first token gets the last layer after its
  attention on that row alone (:mod:`crossrank.export.first_token_tail`): ~14 % of a pair's work.

Only crossrank's engine registers these operators, so a bundle keeps its standard graphs as well:
the fidelity report, the quality gate and the other engines of the benchmark read those, and the
export checks that both give the same scores before it lists an engine graph.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from crossrank.export.first_token_tail import narrow_to_first_token, why_not_narrowed

DOMAIN = "ai.crossrank"
_MS = "com.microsoft"
# Attributes that keep the plain semantics the kernel implements (bidirectional, no extras).
_PLAIN_ATTRIBUTES = {"num_heads", "mask_filter_value", "unidirectional"}


def key_lengths_producers(graph) -> set[str]:
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


def attention_misfit(node, key_lengths: set[str], weight_shapes: dict[str, list[int]]) -> str | None:
    """Why crossrank's attention kernel cannot take the (Q)Attention NODE (None: it can)."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if set(attrs) - _PLAIN_ATTRIBUTES or attrs.get("unidirectional", 0) != 0:
        return f"attributes {sorted(set(attrs) - {'num_heads'})} (the kernel is plain bidirectional attention)"
    # The AVX-512 kernel covers heads 32 and 64 wide (MiniLM, BERT); others would run the slower
    # portable loops, so ONNX Runtime keeps them.
    shape = weight_shapes.get(node.input[1], [])
    if len(shape) != 2 or shape[1] % (3 * attrs["num_heads"]):
        return f"QKV weight of shape {shape} (expected [hidden, 3 x hidden])"
    if shape[1] // (3 * attrs["num_heads"]) not in (32, 64):
        return f"head width {shape[1] // (3 * attrs['num_heads'])} (the AVX-512 kernel takes 32 and 64)"
    if attrs.get("mask_filter_value", -10000.0) > -10000.0:  # masked keys must get no weight
        return "mask_filter_value above -10000 (masked keys would keep some weight)"
    mask_slot, last_slot = (3, 3) if node.op_type == "Attention" else (5, 7)
    extras = [name for name in node.input[last_slot + 1:] if name]  # past state, attention bias, ...
    if extras:
        return f"extra inputs {extras} (past state, attention bias)"
    if len(node.input) <= mask_slot or node.input[mask_slot] not in key_lengths:
        return "its mask is not one key length per sequence (ReduceSum of a right-padded attention_mask)"
    return None


def split_cores(graph, key_lengths: set[str]) -> dict[str, tuple[str, str]]:
    """{MultiHeadAttention name: (packed QKV tensor, its Split node's name)} for the attention cores
    of a split graph (:mod:`crossrank.export.attention_split`) that crossrank's kernel takes: q, k and
    v are the three equal parts of one tensor, no bias, one key length per sequence, heads 32 or 64 wide."""
    from onnx import helper, numpy_helper

    constants = {init.name: init for init in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    out = {}
    for node in graph.node:
        if node.op_type != "MultiHeadAttention" or node.domain != _MS or len(node.input) != 5:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        split = producer.get(node.input[0])
        if (split is None or split.op_type != "Split" or list(split.output) != list(node.input[:3])
                or node.input[3] or node.input[4] not in key_lengths or set(attrs) - {"num_heads", "mask_filter_value"}
                or attrs.get("mask_filter_value", -10000.0) > -10000.0 or any(readers[o] != 1 for o in split.output)
                or len(split.input) != 2 or split.input[1] not in constants):
            continue
        sizes = numpy_helper.to_array(constants[split.input[1]]).tolist()
        split_axis = next((helper.get_attribute_value(a) for a in split.attribute if a.name == "axis"), 0)
        if split_axis in (-1, 2) and len(set(sizes)) == 1 and sizes[0] // attrs["num_heads"] in (32, 64) \
                and sizes[0] % attrs["num_heads"] == 0:
            out[node.name] = (split.input[0], split.name)
    return out


def _is_plain(node, key_lengths: set[str], weight_shapes: dict[str, list[int]]) -> bool:
    if node.domain != _MS or node.op_type not in ("Attention", "QAttention"):
        return False
    return attention_misfit(node, key_lengths, weight_shapes) is None


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


def make_engine_graph(model, *, first_token_tail: bool = True) -> tuple[Any, dict[str, int]]:
    """Return (a copy of MODEL as an engine graph, how many nodes of each crossrank op it got and
    whether its last layer was narrowed to the first token: first_token_tail 0 or 1).

    Attention nodes with other semantics (causal, past state, extra inputs, a raw 2-D mask) or
    heads the AVX-512 kernel does not cover are left as they are, so the result always computes
    what MODEL computes. first_token_tail=False keeps every row of the last layer (for comparisons).
    """
    import onnx
    from onnx import TensorProto, helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    key_lengths = key_lengths_producers(graph)
    weight_shapes = {init.name: list(init.dims) for init in graph.initializer}
    nodes, split = [], 0
    cores = split_cores(graph, key_lengths)
    splits = {name for _, name in cores.values()}
    for node in graph.node:
        if node.name in splits and node.op_type == "Split":
            continue
        if node.name in cores:
            heads = next(helper.get_attribute_value(a) for a in node.attribute if a.name == "num_heads")
            nodes.append(helper.make_node("SelfAttention", [cores[node.name][0], node.input[4]], list(node.output[:1]),
                                          name=node.name, domain=DOMAIN, num_heads=heads))
            continue
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
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:  # the split sizes of removed Splits
        graph.initializer.remove(init)
    if any(n.domain == DOMAIN for n in graph.node) and not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    counts = {op: sum(n.op_type == op and n.domain == DOMAIN for n in graph.node)
              for op in ("SelfAttention", "Gelu", "AddLayerNorm")}
    counts["first_token_tail"] = int(first_token_tail and narrow_to_first_token(model))
    return model, counts


def _norm_misfit(norm, producers: dict[str, Any], consumers: dict[str, list], stream: set[str]) -> str:
    """Why the LayerNormalization NORM did not become AddLayerNorm."""
    if len(norm.input) < 3 or not norm.input[2]:
        return "no bias (the kernel takes one)"
    add = producers.get(norm.input[0])
    if add is None or add.op_type != "Add":
        return "its input is no Add"
    if len(consumers.get(add.output[0], [])) != 1:
        return "the sum also feeds other nodes (pre-norm residual; the kernel returns only the normalized rows)"
    if not stream & set(add.input):
        return "its input is no residual sum (e.g. the embeddings' sum)"
    return "attributes or outputs the kernel does not have"


def _attention_note(graph, taken: int) -> str | None:
    """Why SelfAttention took fewer than all TAKEN-able attention nodes of GRAPH (None: it took all)."""
    key_lengths = key_lengths_producers(graph)
    weight_shapes = {init.name: list(init.dims) for init in graph.initializer}
    attention = [n for n in graph.node if n.domain == _MS and n.op_type in ("Attention", "QAttention")]
    cores = [n for n in graph.node if n.domain == _MS and n.op_type == "MultiHeadAttention"]
    if not attention and not cores:
        return "the graph has no fused (Q)Attention node: ONNX Runtime's optimizer fused none"
    if taken >= len(attention) + len(cores):
        return None
    notes = []
    if cores:
        left = len(cores) - len(split_cores(graph, key_lengths))
        if left:
            notes.append(f"{left} of {len(cores)} MultiHeadAttention nodes stay on ONNX Runtime: not a split QKV "
                         "core the kernel takes (equal q/k/v parts of one tensor, no bias, one key length per "
                         "sequence, heads 32 or 64 wide)")
    reasons = Counter(attention_misfit(n, key_lengths, weight_shapes) for n in attention)
    notes += [f"{k} of {len(attention)} attention nodes stay on ONNX Runtime: {r}" for r, k in reasons.items() if r]
    return "; ".join(notes)


def kernel_misfits(model, counts: dict[str, int]) -> dict[str, str]:
    """Why crossrank's ops took fewer nodes of MODEL (a standard graph) than it has candidates for.

    Args:
        model: the standard graph make_engine_graph was given.
        counts: make_engine_graph's counts for it.

    Returns:
        {crossrank op: reason}, for SelfAttention, Gelu and AddLayerNorm where some candidate (or
        every one) stays on ONNX Runtime's operators; empty when the kernels took everything.
    """
    graph = model.graph
    out: dict[str, str] = {}
    note = _attention_note(graph, counts["SelfAttention"])
    if note:
        out["SelfAttention"] = note
    if counts["Gelu"] == 0:
        out["Gelu"] = "the graph has no com.microsoft.Gelu node (fused GELU without attributes)"
    norms = [n for n in graph.node if n.op_type == "LayerNormalization" and n.domain in ("", "ai.onnx")]
    if counts["AddLayerNorm"] < len(norms):
        producers = {o: n for n in graph.node for o in n.output}
        consumers: dict[str, list] = {}
        for node in graph.node:
            for name in node.input:
                consumers.setdefault(name, []).append(node)
        stream = {n.output[0] for n in norms}
        fused = {n.output[0] for n in _fuse_residual_layer_norms(graph, list(graph.node)) if n.op_type == "AddLayerNorm"}
        reasons = Counter(_norm_misfit(n, producers, consumers, stream) for n in norms if n.output[0] not in fused)
        out["AddLayerNorm"] = "; ".join(f"{k} of {len(norms)} LayerNormalization nodes stay: {r}"
                                        for r, k in reasons.items())
    return out


def write_engine_graph(source: str | Path, target: str | Path) -> tuple[dict[str, int], dict[str, str]]:
    """Write SOURCE's engine graph to TARGET (nothing when no crossrank op applies).

    Returns:
        (how many nodes of each crossrank op it has and first_token_tail 0 or 1, kernel_misfits: why
        the rest stay, with first_token_tail's reason when the last layer keeps every row).
    """
    import onnx

    source_model = onnx.load(str(source))
    model, counts = make_engine_graph(source_model)
    if any(counts.values()):
        onnx.save(model, str(target))
    misfits = kernel_misfits(source_model, counts)
    if counts["SelfAttention"] and not counts["first_token_tail"]:
        misfits["first_token_tail"] = why_not_narrowed(model.graph) or "not narrowed"
    return counts, misfits
