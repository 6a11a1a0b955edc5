"""The ONNX steps shared by every export: optimum's export, ONNX Runtime's transformer fusions,
dynamic int8 quantization and counting a graph's operators.

The cross-encoder export (:mod:`crossrank.export.pipeline`), the bi-encoder export
(:mod:`crossrank.export.encoder`) and the quality gate's variants (:mod:`crossrank.export.gate`)
all run through these functions; optimum, onnx and onnxruntime's tools are imported inside them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from crossrank._system import cpu_info, package_versions
from crossrank.export.families import family_of

# Operators of a dynamically quantized graph (what "quantized_ops" counts).
QUANTIZED_OPS = ("MatMulInteger", "QAttention", "DynamicQuantizeMatMul", "QGemm", "DynamicQuantizeLinear",
                 "DequantizeLinear", "QLinearMatMul", "QuantizeLinear")
# Distributions whose versions a manifest records.
EXPORT_PACKAGES = ("crossrank", "torch", "transformers", "optimum", "optimum-onnx", "onnxruntime", "onnx",
                   "tokenizers")
_QUIET_LOGGERS = ("optimum", "optimum.exporters", "optimum.exporters.onnx", "transformers", "root")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence expected chatter from optimum / the quantizer (root-logger warnings) and Python
    warnings for the duration of a step; real errors still raise."""
    saved = []
    for name in _QUIET_LOGGERS:
        lg = logging.getLogger() if name == "root" else logging.getLogger(name)
        saved.append((lg, lg.level))
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def export_versions() -> dict[str, str | None]:
    """Versions of the packages an export depends on (recorded in manifests)."""
    return package_versions(EXPORT_PACKAGES)


def int8_cpu() -> tuple[bool | None, str]:
    """(has VNNI, description) of this CPU. On x86, U8S8 products can saturate on AVX2 /
    AVX-512 without VNNI, so weights then use reduce_range; None where the question does not
    arise (not x86)."""
    info = cpu_info()
    machine = platform.machine().lower()
    if not info.is_x86:
        return None, machine or "unknown"
    if not info.flags:
        return False, f"{machine}, VNNI unknown (assumed absent)"
    vnni = sorted(info.flags & {"avx512_vnni", "avx_vnni"})
    if vnni:
        return True, f"{machine} with {', '.join(vnni)}"
    simd = "avx512f" if "avx512f" in info.flags else "avx2" if "avx2" in info.flags else "sse"
    return False, f"{machine} with {simd}, no VNNI"


def count_ops(path: str | Path, only: Iterable[str] | None = None) -> dict[str, int]:
    """``{op_type: count}`` of the graph at PATH (only the types in ONLY, when given), sorted."""
    import onnx

    keep = set(only) if only is not None else None
    ops: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        if keep is None or node.op_type in keep:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return dict(sorted(ops.items()))


def graph_signature(path: str | Path) -> tuple[int | None, list[str], list[str]]:
    """(default-domain opset, input names, output names) of the graph at PATH."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None)
    return opset, [i.name for i in model.graph.input], [o.name for o in model.graph.output]


def onnx_export(model, out_dir: Path, *, task: str, opset: int | None = None) -> Path:
    """optimum's ONNX export of the PyTorch MODEL for TASK into OUT_DIR; returns OUT_DIR/model.onnx."""
    from optimum.exporters.onnx import onnx_export_from_model

    with quiet():
        onnx_export_from_model(
            model,
            out_dir,
            opset=opset,
            task=task,
            do_validation=False,  # we compare the fused graph with PyTorch ourselves below
        )
    path = Path(out_dir) / "model.onnx"
    if not path.is_file():  # pragma: no cover - optimum changed its layout
        raise RuntimeError(f"optimum wrote no model.onnx into {out_dir}: {os.listdir(out_dir)}")
    return path


def optimize(raw_onnx: Path, out_path: Path, config) -> dict[str, Any]:
    """ONNX Runtime's transformer fusions (fp32) of RAW_ONNX into OUT_PATH; returns what was done."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    opt_type = family_of(config.model_type).optimizer
    options = FusionOptions(opt_type)
    # The embedding-LayerNorm fusion gets in the way of quantization (DESIGN.md, Quantization):
    # the int8 graph is made from this fused graph, so keep the embeddings unfused.
    options.enable_embed_layer_norm = False
    # ONNX Runtime's CPU SkipLayerNormalization kernel was measured ~3x slower than the Add +
    # LayerNormalization it replaces (22 % of int8 time on MiniLM); the engine also tells
    # ONNX Runtime not to re-fuse them at load (onnx_session.cc).
    options.enable_skip_layer_norm = False
    # Likewise BiasGelu: unfused, the int8 graph's MatMul takes the bias into its output pass and
    # ONNX Runtime's plain Gelu kernel is ~40 % faster than BiasGelu (csrc/runtime/onnx_session.h).
    options.enable_bias_gelu = False
    num_heads = int(config.num_attention_heads)
    hidden = int(config.hidden_size)
    opt_level = 1  # ONNX Runtime basic (hardware-independent) optimizations before the fusions
    with quiet():
        m = optimize_model(
            str(raw_onnx),
            model_type=opt_type,
            num_heads=num_heads,
            hidden_size=hidden,
            optimization_options=options,
            opt_level=opt_level,
            use_gpu=False,
        )
    stats = {k: int(v) for k, v in (m.get_fused_operator_statistics() or {}).items()}
    m.save_model_to_file(str(out_path), use_external_data_format=False)
    return {
        "tool": "onnxruntime.transformers.optimizer",
        "model_type": opt_type,
        "opt_level": opt_level,
        "num_heads": num_heads,
        "hidden_size": hidden,
        "options": {k: v for k, v in vars(options).items() if isinstance(v, (bool, int, str))},
        "applied": sorted(k for k, v in stats.items() if v > 0),
        "fused_operators": stats,
        "graph_ops": count_ops(out_path),
    }


def quantize_dynamic_int8(fp32: str | Path, out: str | Path, *, per_channel: bool = True,
                          reduce_range: bool = False, exclude: Sequence[str] = (),
                          only: Sequence[str] | None = None) -> None:
    """Dynamic int8 (U8S8, QOperator) of the fused FP32 graph into OUT, leaving the nodes in
    EXCLUDE in fp32 (or quantizing only the nodes in ONLY)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet():
        quantize_dynamic(
            Path(fp32), Path(out),
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(exclude) or None,
            nodes_to_quantize=list(only) if only is not None else None,
            # Shape inference cannot see through the fused contrib ops; without this the
            # quantizer fails with "Unable to find data type for weight_name=..." (DESIGN.md).
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )


def quantize(fused: Path, out_path: Path, reduce_range: bool | None = None,
             per_channel: bool = True) -> dict[str, Any]:
    """The export's int8 step: quantize FUSED into OUT_PATH; returns the manifest's "quantization".

    REDUCE_RANGE None decides from this CPU (7-bit weights on x86 without VNNI).
    """
    vnni, cpu = int8_cpu()
    if reduce_range is None:
        reduce_range = vnni is False
    quantize_dynamic_int8(fused, out_path, per_channel=per_channel, reduce_range=reduce_range)
    ops = count_ops(out_path)
    return {
        "method": "dynamic",
        "format": "QOperator",
        "per_channel": per_channel,
        "weight_type": "int8",
        "activation_type": "uint8",
        "reduce_range": reduce_range,
        "built_on_cpu_with_vnni": vnni,
        "built_on_cpu": cpu,
        "extra_options": {"DefaultTensorType": "FLOAT"},
        "quantized_ops": {k: v for k, v in ops.items() if k in QUANTIZED_OPS},
        "graph_ops": ops,
    }
