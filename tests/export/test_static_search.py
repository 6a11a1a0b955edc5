"""Static int8 graph rewrites on a one-layer BERT block: the attention split, SmoothQuant folding,
absorbing the smoothing into QuantizeLinear, and the sensitivity fallback."""

from __future__ import annotations

import numpy as np
import pytest

from static_graphs import Reader, block_model, feeds, padded_batch, run

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from crossrank.export.activation_stats import channel_absmax, percentile_ranges  # noqa: E402
from crossrank.export.attention_split import split_attention  # noqa: E402
from crossrank.export.engine_graph import make_engine_graph  # noqa: E402
from crossrank.export.sensitivity import predicted_fallback, quantized_matmuls, restore_fp32  # noqa: E402
from crossrank.export.smoothquant import (  # noqa: E402
    ATTENTION_OUTPUT,
    MUL,
    SMOOTH_SUFFIX,
    absorb_smoothing,
    apply_smoothing,
    smooth_targets,
    smoothing_factors,
)
from crossrank.export.static_int8 import quantize_static_int8  # noqa: E402


def _valid(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return y * mask[..., None]


def _smoothed(tmp_path, model, alpha=0.5):
    from onnx import numpy_helper

    src = tmp_path / "fp32.onnx"
    onnx.save(model, str(src))
    targets = smooth_targets(model)
    absmax = channel_absmax(src, feeds(8), sorted({t.activation for t in targets}))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    factors = {t.matmul: smoothing_factors(absmax[t.activation], inits[t.weight], alpha) for t in targets}
    out = tmp_path / "smoothed.onnx"
    info = apply_smoothing(src, out, factors, targets)
    return src, out, targets, info


def test_split_attention_computes_what_the_fused_node_computes():
    model = block_model()
    split, n = split_attention(model)
    assert n == 1
    ops = [node.op_type for node in split.graph.node]
    assert "Attention" not in ops and {"MultiHeadAttention", "Split"} <= set(ops)
    batch = padded_batch()
    diff = _valid(run(split, batch) - run(model, batch), batch["mask"])
    assert np.abs(diff).max() <= 1e-5


def test_engine_graph_turns_the_split_core_into_self_attention():
    split, _ = split_attention(block_model())
    engine, counts = make_engine_graph(split)
    ops = [(node.domain, node.op_type) for node in engine.graph.node]
    assert counts["SelfAttention"] == 1
    assert ("com.microsoft", "MultiHeadAttention") not in ops and ("", "Split") not in ops
    qkv_add = next(node for node in split.graph.node if node.name.endswith("/qkv/Add"))
    core = next(node for node in engine.graph.node if node.op_type == "SelfAttention")
    assert core.input[0] == qkv_add.output[0]


@pytest.mark.parametrize("split", [False, True])
def test_smoothing_leaves_fp32_scores_unchanged(tmp_path, split):
    model = split_attention(block_model())[0] if split else block_model()
    src, out, targets, info = _smoothed(tmp_path, model)
    kinds = {t.kind for t in targets}
    assert kinds == {ATTENTION_OUTPUT, MUL}
    assert info["folded_into_v"] == ["/layer.0/attention/output/dense/MatMul"]
    assert len(info["mul_nodes"]) == (3 if split else 2)  # QKV (split only), FFN in, FFN out
    batch = padded_batch()
    reference = run(src, batch)
    assert np.abs(_valid(run(out, batch) - reference, batch["mask"])).max() <= 1e-5


def test_smoothing_factors_follow_the_activation_outliers():
    act = np.array([1.0, 16.0, 1.0], np.float32)
    weight = np.ones((3, 4), np.float32)
    s = smoothing_factors(act, weight, 0.5)
    assert s[1] == pytest.approx(4.0) and s[0] == pytest.approx(1.0)


def test_absorbed_smoothing_matches_the_mul_graph(tmp_path):
    model = split_attention(block_model())[0]
    _, smoothed, _, info = _smoothed(tmp_path, model)
    qdq = tmp_path / "qdq.onnx"
    quantize_static_int8(smoothed, qdq, Reader(feeds(16)))
    absorbed = tmp_path / "absorbed.onnx"
    absorbed.write_bytes(qdq.read_bytes())
    assert absorb_smoothing(absorbed) == len(info["mul_nodes"])
    graph = onnx.load(str(absorbed)).graph
    assert not [n for n in graph.node if n.name.endswith(SMOOTH_SUFFIX)]
    per_channel = [n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[1].endswith("_channel_scale")]
    assert len(per_channel) == len(info["mul_nodes"])
    batch = padded_batch()
    a, b = run(qdq, batch), run(absorbed, batch)
    # x * (1/s) / a and x / (a s) may round to neighbouring int8 steps now and then
    assert np.abs(_valid(a - b, batch["mask"])).mean() <= 1e-3


def test_percentile_ranges_clip_the_tail_and_keep_zero(tmp_path):
    path = tmp_path / "fp32.onnx"
    onnx.save(block_model(), str(path))
    full = percentile_ranges(path, feeds(8), ["i2"], 100.0)
    clipped = percentile_ranges(path, feeds(8), ["i2"], 99.0)
    assert full["i2"][0] <= 0.0 <= full["i2"][1]
    assert clipped["i2"][1] < full["i2"][1]
    with pytest.raises(ValueError, match="percentile"):
        percentile_ranges(path, feeds(1), ["i2"], 40.0)


def test_fallback_keeps_the_named_matmuls_fp32(tmp_path):
    model = split_attention(block_model())[0]
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(model, str(fp32))
    qdq = tmp_path / "qdq.onnx"
    quantize_static_int8(fp32, qdq, Reader(feeds(16)))
    quantized = quantized_matmuls(onnx.load(str(qdq)))
    assert len(quantized) == 4  # QKV, attention output, FFN in, FFN out
    kept = ["/layer.0/output/dense/MatMul"]
    restored = restore_fp32(onnx.load(str(qdq)), model, kept)
    graph = restored.graph
    inits = {i.name: i for i in graph.initializer}
    node = next(n for n in graph.node if n.name == kept[0])
    assert node.input[0] == "i2" and inits[node.input[1]].data_type == onnx.TensorProto.FLOAT
    assert set(quantized_matmuls(restored)) == set(quantized) - set(kept)
    batch = padded_batch()
    reference = _valid(run(model, batch), batch["mask"])
    err_all = np.abs(_valid(run(qdq, batch), batch["mask"]) - reference).mean()
    everything = restore_fp32(onnx.load(str(qdq)), model, list(quantized))
    assert np.abs(_valid(run(everything, batch), batch["mask"]) - reference).max() <= 1e-5
    assert err_all > 0
    with pytest.raises(ValueError, match="not quantized"):
        restore_fp32(onnx.load(str(qdq)), model, ["no such MatMul"])


def test_predicted_fallback_keeps_the_worst_until_the_budget():
    errors = [{"node": "a", "score_error": 0.3}, {"node": "b", "score_error": 0.1}, {"node": "c", "score_error": 0.2}]
    total = float(np.sqrt(0.3 ** 2 + 0.1 ** 2 + 0.2 ** 2))
    assert predicted_fallback(errors, total, 0.25, 4) == ["a"]
    assert predicted_fallback(errors, total, 0.05, 4) == ["a", "c", "b"]
    assert predicted_fallback(errors, total, 0.05, 1) == ["a"]
    assert predicted_fallback(errors, total, 1.0, 4) == []


def test_restore_handles_activation_by_activation_matmuls(tmp_path):
    """Attention scores (ModernBERT's graph): both MatMul inputs are quantized activations."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(3).standard_normal((8, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["a"], name="project"),
         helper.make_node("Transpose", ["a"], ["at"], name="transpose", perm=[0, 2, 1]),
         helper.make_node("MatMul", ["a", "at"], ["y"], name="scores")],
        "scores", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "s", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "s", "s"])], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    fp32 = tmp_path / "fp32.onnx"
    onnx.save(model, str(fp32))
    rng = np.random.default_rng(4)
    items = [{"x": rng.standard_normal((1, 5, 8)).astype(np.float32)} for _ in range(8)]
    qdq = tmp_path / "qdq.onnx"
    quantize_static_int8(fp32, qdq, Reader(items))
    assert set(quantized_matmuls(onnx.load(str(qdq)))) == {"project", "scores"}
    restored = restore_fp32(onnx.load(str(qdq)), model, ["project", "scores"])
    assert np.abs(run(restored, items[0]) - run(model, items[0])).max() <= 1e-5
