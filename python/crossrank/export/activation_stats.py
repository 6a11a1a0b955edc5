"""Statistics of a graph's activations over calibration pairs (ONNX Runtime, fp32), for static int8:
per-channel ranges (SmoothQuant's migration, :mod:`crossrank.export.smoothquant`) and clipped
per-tensor ranges (percentile calibration of chosen tensors, e.g. the GELU outputs)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

TAIL_KEPT = 20000  # largest (and smallest) values kept per tensor for the percentiles


def _outputs(model_path: str | Path, feeds: Iterable[Mapping[str, np.ndarray]],
             tensors: Sequence[str]) -> Iterator[dict[str, np.ndarray]]:
    """TENSORS of the graph at MODEL_PATH for each of FEEDS (optimizations off, CPU); nothing when
    TENSORS is empty."""
    if not tensors:
        return
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path))
    known = {o.name for o in model.graph.output}
    for name in tensors:
        if name not in known:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    for feed in feeds:
        yield dict(zip(tensors, session.run(list(tensors), dict(feed))))


def channel_absmax(model_path: str | Path, feeds: Iterable[Mapping[str, np.ndarray]],
                   tensors: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-channel (last axis) max |value| of each of TENSORS over the FEEDS."""
    out: dict[str, np.ndarray] = {}
    for values in _outputs(model_path, feeds, tensors):
        for name, value in values.items():
            m = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            out[name] = m if name not in out else np.maximum(out[name], m)
    return out


def percentile_ranges(model_path: str | Path, feeds: Iterable[Mapping[str, np.ndarray]],
                      tensors: Sequence[str], percentile: float) -> dict[str, tuple[float, float]]:
    """(low, high) of each of TENSORS over the FEEDS: the (100 - PERCENTILE)-th and PERCENTILE-th
    percentiles of all its values, widened to include 0 (the asymmetric uint8 grid holds 0 exactly).

    Raises:
        ValueError: PERCENTILE not in (50, 100], or so close to 100 that more than TAIL_KEPT values
            lie beyond it.
    """
    if not 50.0 < percentile <= 100.0:
        raise ValueError(f"percentile must be in (50, 100], got {percentile}")
    top: dict[str, np.ndarray] = {}
    bottom: dict[str, np.ndarray] = {}
    count: dict[str, int] = {}
    for values in _outputs(model_path, feeds, tensors):
        for name, value in values.items():
            flat = value.ravel()
            count[name] = count.get(name, 0) + flat.size
            hi = np.concatenate([top.get(name, flat[:0]), flat])
            lo = np.concatenate([bottom.get(name, flat[:0]), flat])
            top[name] = np.partition(hi, -TAIL_KEPT)[-TAIL_KEPT:] if hi.size > TAIL_KEPT else hi
            bottom[name] = np.partition(lo, TAIL_KEPT)[:TAIL_KEPT] if lo.size > TAIL_KEPT else lo
    out = {}
    for name in tensors:
        beyond = int(count[name] * (100.0 - percentile) / 100.0)
        if beyond >= TAIL_KEPT:
            raise ValueError(f"percentile {percentile}: {beyond} values of {name} lie beyond it, "
                             f"more than the {TAIL_KEPT} kept; use a percentile nearer 100")
        high = float(np.sort(top[name])[::-1][beyond])
        low = float(np.sort(bottom[name])[beyond])
        out[name] = (min(low, 0.0), max(high, 0.0))
    return out
