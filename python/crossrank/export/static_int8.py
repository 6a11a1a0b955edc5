"""Static int8: activation scales calibrated once, at export, on in-domain pairs.

Dynamic int8 (:func:`crossrank.export.onnx_steps.quantize_dynamic_int8`) measures each activation's
range while it runs, over the whole batch, so a pair's score depends on its batch mates. Here ONNX
Runtime's ``quantize_static`` fixes every scale beforehand from calibration pairs (the fidelity pools,
or a user's ``--calibration`` BEIR folder): a pair scores the same alone or in any batch.

The format, chosen by measurement on ``minilm-l6-ce-distilled`` (scripts/precision_report.py):

- QDQ, U8S8 (uint8 activations, int8 weights, one scale per output channel): ONNX Runtime fuses each
  DequantizeLinear -> MatMul into an integer GEMM at load, and the products leave as fp32, so
  crossrank's fp32 kernels (attention core, GELU, Add + LayerNorm) still apply (engine graphs).
- MatMul inputs only (``OpTypesToExcludeOutputQuantization``): quantizing the MatMul outputs too,
  the quantizer's default, added a second rounding that cost 0.1 of top-10 overlap.
- The fused Attention's QKV projection stays fp32: ONNX Runtime quantizes Attention only
  dynamically (QAttention), which would bring batch dependence back.
- Only the MatMuls read the int8 copy of an activation (:func:`unquantize_other_consumers`): the
  residual stream stays fp32.
- Symbolic shape inference first: without it the quantizer cannot type the tensors behind the
  fused contrib ops and silently leaves two of three MatMuls in fp32.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._validation import CALIBRATION_METHODS, check_choice
from crossrank.export.fidelity import Pool
from crossrank.export.onnx_steps import count_ops, quiet
from crossrank.tokenizer import Tokenizer



def calibration_pairs(pools: Sequence[Pool], limit: int = 200) -> list[tuple[str, str]]:
    """Up to LIMIT (query, passage) pairs taken round-robin over POOLS, so every query is seen.

    Raises:
        ValueError: POOLS hold no pair, or LIMIT is below 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pairs: list[tuple[str, str]] = []
    depth = max((len(p.docs) for p in pools), default=0)
    for i in range(depth):
        for p in pools:
            if i < len(p.docs) and len(pairs) < limit:
                pairs.append((p.query, p.docs[i]))
    if not pairs:
        raise ValueError("calibration needs at least one (query, passage) pair; the pools are empty")
    return pairs


class PairReader:
    """ONNX Runtime's CalibrationDataReader over tokenized pairs: one pair per run, unpadded, so
    padding never enters the ranges; PAD_TO pads every pair to that length instead (the histogram
    methods need one shape for all runs)."""

    def __init__(self, tokenizer_file: str | Path, pairs: Sequence[tuple[str, str]], *, max_length: int,
                 input_names: Sequence[str], pad_to: int | None = None) -> None:
        tokenizer = Tokenizer.from_file(tokenizer_file)
        length = min(max_length, pad_to) if pad_to else max_length
        self.encodings = tokenizer.encode_pairs(list(pairs), length)
        self.pad_id = tokenizer.pad_id
        self.input_names = list(input_names)
        self.pad_to = length if pad_to else None
        self._items: Iterator[Any] = iter(self.encodings)

    def __len__(self) -> int:
        return len(self.encodings)

    def _feed(self, ids: list[int], type_ids: list[int]) -> dict[str, np.ndarray]:
        n = len(ids)
        width = self.pad_to or n
        arrays = {"input_ids": np.full((1, width), self.pad_id, np.int64),
                  "attention_mask": np.zeros((1, width), np.int64),
                  "token_type_ids": np.zeros((1, width), np.int64)}
        arrays["input_ids"][0, :n] = ids
        arrays["attention_mask"][0, :n] = 1
        arrays["token_type_ids"][0, :n] = type_ids
        return {name: arrays[name] for name in self.input_names}

    def get_next(self) -> dict[str, np.ndarray] | None:
        item = next(self._items, None)
        return None if item is None else self._feed(item.ids, item.type_ids)

    def rewind(self) -> None:
        self._items = iter(self.encodings)


def infer_shapes(fp32: str | Path, out: str | Path) -> None:
    """FP32 with ONNX Runtime's symbolic shape inference (it knows the contrib ops) written to OUT."""
    import onnx
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    with quiet():
        model = SymbolicShapeInference.infer_shapes(onnx.load(str(fp32)), auto_merge=True)
    onnx.save(model, str(out))


def unquantize_other_consumers(path: str | Path) -> int:
    """Give every consumer of a quantized activation but the MatMuls the fp32 tensor back.

    The quantizer feeds the QuantizeLinear -> DequantizeLinear copy of a tensor to all its consumers:
    the LayerNorm output that enters an FFN also enters the residual Add, which then carried an
    int8-rounded residual stream (and hid the Add + LayerNorm from the engine graph's fusion).
    Returns the number of inputs rewired; the graph at PATH is rewritten in place.
    """
    import onnx

    model = onnx.load(str(path))
    producer = {o: n for n in model.graph.node for o in n.output}
    rewired = 0
    for node in model.graph.node:
        if node.op_type in ("MatMul", "QuantizeLinear", "DequantizeLinear"):
            continue
        for i, name in enumerate(node.input):
            dq = producer.get(name)
            q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is not None and q.op_type == "QuantizeLinear":
                node.input[i] = q.input[0]
                rewired += 1
    onnx.save(model, str(path))
    return rewired


def _overrides(ranges: Mapping[str, tuple[float, float]] | None) -> dict[str, Any]:
    """The quantizer's TensorQuantOverrides for RANGES (none when empty)."""
    if not ranges:
        return {}
    return {"TensorQuantOverrides": {name: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}]
                                     for name, (lo, hi) in ranges.items()}}


def quantize_static_int8(fp32: str | Path, out: str | Path, reader: PairReader, *, method: str = "MinMax",
                         exclude: Sequence[str] = (), reduce_range: bool = False,
                         ranges: Mapping[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Static int8 (QDQ, U8S8, per-channel weights) of the fused FP32 graph into OUT.

    Args:
        fp32: the fused fp32 graph (run through :func:`infer_shapes` here first).
        out: the int8 graph to write.
        reader: the calibration pairs (:class:`PairReader`).
        method: one of CALIBRATION_METHODS.
        exclude: MatMul nodes kept in fp32 (the sensitive ones).
        reduce_range: 7-bit weights (x86 without VNNI, where U8S8 products can saturate).
        ranges: {activation tensor: (low, high)} that replace METHOD's range for those tensors
            (e.g. percentile ranges of the GELU outputs).

    Returns:
        The manifest's description of the graph: method, format, what is quantized.

    Raises:
        ValueError: METHOD is not one of CALIBRATION_METHODS.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    check_choice(method, CALIBRATION_METHODS, "calibration_method")
    shaped = Path(out).with_suffix(".shapes.onnx")
    infer_shapes(fp32, shaped)
    try:
        with quiet():
            quantize_static(
                shaped, Path(out), reader, quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
                per_channel=True, reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=getattr(CalibrationMethod, method), nodes_to_exclude=list(exclude) or None,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT,
                               "OpTypesToExcludeOutputQuantization": ["MatMul"],
                               **_overrides(ranges)})
    finally:
        shaped.unlink(missing_ok=True)
    rewired = unquantize_other_consumers(out)
    ops = count_ops(out)
    return {"method": "static", "calibration": method, "calibration_pairs": len(reader),
            "format": "QDQ", "per_channel": True, "weight_type": "int8", "activation_type": "uint8",
            "reduce_range": reduce_range, "outputs_quantized": False,
            "range_overrides": {k: [round(float(v), 6) for v in r] for k, r in (ranges or {}).items()}, "fp32_inputs_restored": rewired, "kept_fp32_nodes": list(exclude),
            "quantized_matmuls": ops.get("DequantizeLinear", 0) // 2, "graph_ops": ops}
