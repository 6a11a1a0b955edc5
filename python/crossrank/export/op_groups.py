"""Operator groups of a fused fp32 graph: what the quality gate keeps in fp32 (or quantizes) together."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OpGroup", "op_groups"]


@dataclass(frozen=True)
class OpGroup:
    """Operators of the fused fp32 graph that are kept in fp32 (or quantized) together."""

    name: str
    nodes: tuple[str, ...]
    cost: float  # share of the graph's weight multiply-adds per token (0 for lookups, the head)


_LAYER = re.compile(r"layers?[._/](\d+)[./]")


def op_groups(model_path: str | Path) -> list[OpGroup]:
    """The quantizable operators of a fused fp32 graph, grouped.

    Groups: 'embeddings' (Gather on weight tables), 'layer.<i>.attention' (fused Attention +
    output projection), 'layer.<i>.ffn' (the two feed-forward MatMuls), 'head' (what runs on the
    pooled token: pooler, classifier).

    Args:
        model_path: the fused fp32 graph.

    Returns:
        The groups in graph order (embeddings, layers, head), each with its share of the weight
        multiply-adds per token.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    inits = {i.name: i for i in graph.initializer}

    def weight_size(node) -> int:
        for name in node.input[1:2] if node.op_type != "Gather" else ():
            init = inits.get(name)
            if init is not None:
                return int(np.prod(init.dims))
        return 0

    # Which layer a node belongs to: from its name, or (fused Attention_<i>) from its input.
    groups: dict[str, list[Any]] = {}
    attention_seen = 0
    for node in graph.node:
        if node.op_type == "Gather" and node.input and node.input[0] in inits:
            groups.setdefault("embeddings", []).append(node)
            continue
        if node.op_type not in ("MatMul", "Attention", "Gemm"):
            continue
        if node.op_type == "MatMul" and not any(i in inits for i in node.input):
            continue  # activation x activation: not quantized by dynamic quantization
        text = node.name + " " + " ".join(node.input)
        if node.op_type == "Attention":
            layer = attention_seen
            attention_seen += 1
            groups.setdefault(f"layer.{layer}.attention", []).append(node)
            continue
        m = _LAYER.search(node.name) or _LAYER.search(text)
        if m is None:
            groups.setdefault("head", []).append(node)
            continue
        layer = int(m.group(1))
        lname = node.name.lower()
        part = "attention" if "attention" in lname else "ffn"
        groups.setdefault(f"layer.{layer}.{part}", []).append(node)
    total = sum(weight_size(n) for ns in groups.values() for n in ns if not _runs_once(n, groups))
    out = []
    for name, nodes in groups.items():
        per_token = sum(weight_size(n) for n in nodes) if name not in ("embeddings", "head") else 0
        out.append(OpGroup(name, tuple(n.name for n in nodes), per_token / total if total else 0.0))

    def order(g: OpGroup):
        m = re.match(r"layer\.(\d+)\.(\w+)", g.name)
        return (0, 0, "") if g.name == "embeddings" else (2, 0, "") if g.name == "head" else (
            1, int(m.group(1)), m.group(2))

    return sorted(out, key=order)


def _runs_once(node, groups) -> bool:
    return any(node in groups.get(k, []) for k in ("embeddings", "head"))
