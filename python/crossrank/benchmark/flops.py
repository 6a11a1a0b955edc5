"""The benchmark's arithmetic: tokens per pair, and the useful operations they cost.

Useful operations are what the model needs for the real tokens: 2 x linear parameters x tokens,
plus 4·L²·hidden per layer and pair for attention. Divided by a latency they give the useful
GOP/s that every row sets against the machine's int8 GEMM rate (:mod:`crossrank.benchmark.gemm_rate`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from crossrank.bundle import Bundle


@dataclass(frozen=True)
class EncoderShape:
    """What the arithmetic of one pair depends on, read from the ONNX graph."""

    layers: int
    hidden: int
    linear_params: int  # weights applied to every token (attention projections + feed-forward)

    def operations(self, lengths: Sequence[int]) -> float:
        """Useful operations (multiply and add counted apart) to score pairs of these lengths."""
        return sum(2.0 * self.linear_params * n + 4.0 * n * n * self.hidden * self.layers for n in lengths)


def encoder_shape(model_path: str | Path) -> EncoderShape:
    """Layers, width and per-token linear parameters of a BERT-style ONNX graph (fused or not).

    Per-token weights are the 2-D initializers fed to MatMul / Attention nodes; Gemm nodes (pooler,
    classifier) run once per pair and are left out. Width is the word embedding's; layers are the
    fused Attention nodes, or the Softmax nodes of an unfused graph.

    Raises:
        ValueError: when the graph has no vocabulary table or no linear layers.
    """
    import onnx

    graph = onnx.load(str(model_path)).graph
    dims = {init.name: tuple(init.dims) for init in graph.initializer}
    linear = layers = softmaxes = 0
    hidden = 0
    for node in graph.node:
        weight = dims.get(node.input[1]) if len(node.input) > 1 else None
        if node.op_type in ("MatMul", "Attention") and weight is not None and len(weight) == 2:
            linear += weight[0] * weight[1]
        layers += node.op_type == "Attention"
        softmaxes += node.op_type == "Softmax"
        table = dims.get(node.input[0]) if node.op_type == "Gather" else None
        if table is not None and len(table) == 2 and table[0] > 1000:  # the vocabulary table
            hidden = table[1]
    if not hidden or not linear:
        raise ValueError(f"{model_path}: cannot find the embedding width or linear layers of an encoder")
    return EncoderShape(layers=layers or softmaxes, hidden=hidden, linear_params=linear)


def bundle_shape(bundle: Bundle) -> EncoderShape:
    """The encoder shape of BUNDLE, read from its fp32 graph (its int8 graph when it has no fp32)."""
    return encoder_shape(bundle.model_file("fp32") if "fp32" in bundle.model_files else bundle.model_file("int8"))


def pair_lengths(bundle: Bundle, query: str, docs: Sequence[str], *, truncate: bool = True) -> list[int]:
    """Tokens of each (query, doc) pair with special tokens, truncated to the bundle's max_length
    as the Python peers do (longest first; TRUNCATE=False: as written)."""
    from tokenizers import Tokenizer as HFTokenizer

    tokenizer = HFTokenizer.from_file(str(bundle.tokenizer_file))
    if truncate:
        tokenizer.enable_truncation(bundle.max_length, strategy="longest_first")
    else:
        tokenizer.no_truncation()
    tokenizer.no_padding()
    return [len(e.ids) for e in tokenizer.encode_batch([(query, doc) for doc in docs])]


def length_summary(lengths: Sequence[int]) -> dict[str, float]:
    """min / median / p90 (nearest rank) / max of pair lengths in tokens."""
    ordered = sorted(lengths)
    return {"min": ordered[0], "median": statistics.median(ordered),
            "p90": ordered[math.ceil(0.9 * len(ordered)) - 1], "max": ordered[-1]}
