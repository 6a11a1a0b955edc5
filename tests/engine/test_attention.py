"""crossrank's attention kernel and the engine graphs that run it.

The kernel is checked against a float64 NumPy reference on both its implementations; the engine
graphs against the standard graphs they are derived from, through the engine, alone and in padded
batches.
"""

import dataclasses

import numpy as np
import onnx
import pytest

from crossrank import Reranker, _native
from crossrank.bundle import Bundle
from crossrank.export.engine_graph import DOMAIN, make_engine_graph


def reference_attention(qkv: np.ndarray, lengths: np.ndarray, heads: int) -> np.ndarray:
    batch, seq, packed = qkv.shape
    hidden = packed // 3
    size = hidden // heads
    out = np.zeros((batch, seq, hidden))
    x = qkv.astype(np.float64)
    for b in range(batch):
        n = lengths[b]
        for h in range(heads):
            cols = slice(h * size, (h + 1) * size)
            q, k, v = x[b, :n, cols], x[b, :n, hidden:][:, cols], x[b, :n, 2 * hidden:][:, cols]
            s = q @ k.T / np.sqrt(size)
            p = np.exp(s - s.max(axis=1, keepdims=True))
            out[b, :n, cols] = (p / p.sum(axis=1, keepdims=True)) @ v
    return out


@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
@pytest.mark.parametrize("heads,size", [(12, 32), (4, 64), (3, 48), (2, 8)])
@pytest.mark.parametrize("seq,lengths", [(1, [1]), (17, [17]), (70, [70, 33]), (129, [5, 129, 64])])
def test_kernel_matches_softmax_attention(heads, size, seq, lengths, portable):
    rng = np.random.default_rng(seq * heads)
    qkv = rng.normal(scale=2.0, size=(len(lengths), seq, 3 * heads * size)).astype(np.float32)
    lengths = np.array(lengths, dtype=np.int32)
    out = _native.testing.self_attention(qkv, lengths, heads, portable=portable)
    np.testing.assert_allclose(out, reference_attention(qkv, lengths, heads), atol=2e-5, rtol=1e-4)
    for b, n in enumerate(lengths):
        assert not out[b, n:].any()  # padding rows are zeros, never stale memory


@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
@pytest.mark.parametrize("query_rows", [1, 3, 9, 500])
def test_kernel_computes_only_the_leading_queries_asked_for(query_rows, portable):
    # The first-token tail's attention: the leading query rows alone, every key still attended to,
    # each row exactly as the full call computes it (a short sequence keeps zeros past its length).
    rng = np.random.default_rng(query_rows)
    qkv = rng.normal(scale=2.0, size=(3, 40, 3 * 384)).astype(np.float32)
    lengths = np.array([40, 2, 17], dtype=np.int32)
    full = _native.testing.self_attention(qkv, lengths, 12, portable=portable)
    some = _native.testing.self_attention(qkv, lengths, 12, portable=portable, query_rows=query_rows)
    assert some.shape == (3, min(query_rows, 40), 384)
    np.testing.assert_array_equal(some, full[:, :query_rows])
    with pytest.raises(ValueError, match="query_rows"):
        _native.testing.self_attention(qkv, lengths, 12, query_rows=-1)


def _bf16(x: np.ndarray) -> np.ndarray:
    """X rounded to bf16 (to nearest even), as float32."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    return (((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("heads,size", [(12, 32), (4, 64)])
@pytest.mark.parametrize("seq,lengths", [(1, [1]), (17, [17]), (70, [70, 33]), (153, [5, 153, 64])])
def test_bf16_products_match_attention_on_bf16_inputs(heads, size, seq, lengths):
    # Q, K and V rounded to bf16, the softmax weights too (their rounding is the rest of the error).
    if not _native.BF16_KERNELS:
        pytest.skip("this CPU has no AVX512-BF16: bf16=True runs the fp32 kernel")
    rng = np.random.default_rng(seq + heads)
    qkv = rng.normal(size=(len(lengths), seq, 3 * heads * size)).astype(np.float32)
    lengths = np.array(lengths, dtype=np.int32)
    out = _native.testing.self_attention(qkv, lengths, heads, bf16=True)
    rounded = reference_attention(_bf16(qkv), lengths, heads)
    exact = reference_attention(qkv, lengths, heads)
    np.testing.assert_allclose(out, rounded, atol=4e-3)
    assert np.abs(out - rounded).max() < np.abs(out - exact).max()  # the bf16 kernel ran, not fp32
    for b, n in enumerate(lengths):
        assert not out[b, n:].any()
    first = _native.testing.self_attention(qkv, lengths, heads, bf16=True, query_rows=1)
    np.testing.assert_array_equal(first, out[:, :1])


def test_kernel_masks_padding_keys_exactly():
    # Scores of padding keys must not leak into the real ones, whatever the padding holds.
    rng = np.random.default_rng(1)
    qkv = rng.normal(size=(1, 40, 3 * 384)).astype(np.float32)
    noisy = qkv.copy()
    noisy[:, 25:] = 1e4
    base = _native.testing.self_attention(qkv, np.array([25], np.int32), 12)
    np.testing.assert_array_equal(_native.testing.self_attention(noisy, np.array([25], np.int32), 12)[:, :25], base[:, :25])


def test_kernel_rejects_bad_shapes():
    with pytest.raises(ValueError, match="3 \\* num_heads"):
        _native.testing.self_attention(np.zeros((1, 4, 10), np.float32), np.array([4], np.int32), 2)
    with pytest.raises(ValueError, match="one length per sequence"):
        _native.testing.self_attention(np.zeros((2, 4, 12), np.float32), np.array([4], np.int32), 2)


def test_kernel_name_says_which_implementation_runs():
    assert _native.KERNELS in ("avx512", "portable")


def _ops(path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def _engine_ops(source) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """(op counts before, op counts after, make_engine_graph's own counts) for one graph."""
    model, counts = make_engine_graph(onnx.load(str(source)))
    after: dict[str, int] = {}
    for node in model.graph.node:
        after[node.op_type] = after.get(node.op_type, 0) + 1
    assert any(o.domain == DOMAIN for o in model.opset_import)
    return _ops(source), after, counts


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_engine_graph_replaces_attention_gelu_and_residual_layer_norms(minilm_bundle, precision):
    before, after, counts = _engine_ops(Bundle.load(minilm_bundle).model_file(precision))
    assert before.get("Attention", 0) + before.get("QAttention", 0) == after["SelfAttention"] == 6
    assert "Attention" not in after and "QAttention" not in after
    assert after["Gelu"] == before["Gelu"] == 6  # now crossrank's
    # Both residual Add + LayerNorm pairs of each layer fused; the embeddings' LayerNorm (its Add
    # broadcasts the position embeddings) stays ONNX Runtime's.
    assert after["AddLayerNorm"] == 12 and after["LayerNormalization"] == before["LayerNormalization"] - 12 == 1
    # fp32's last layer narrows to the first token; int8's dynamic scales span every row, so it stays.
    assert counts == {"SelfAttention": 6, "Gelu": 6, "AddLayerNorm": 12, "first_token_tail": int(precision == "fp32")}


def test_engine_graph_leaves_attention_the_kernel_does_not_compute(minilm_bundle, tiny_bundle):
    # A causal (unidirectional) attention is not what the kernel computes: it must stay.
    model = onnx.load(str(Bundle.load(minilm_bundle).model_file("fp32")))
    first = next(n for n in model.graph.node if n.op_type == "Attention")
    first.attribute.append(onnx.helper.make_attribute("unidirectional", 1))
    assert make_engine_graph(model)[1]["SelfAttention"] == 5
    # The tiny model's 16-wide heads are not covered by the AVX-512 kernel: ONNX Runtime keeps them.
    before, after, counts = _engine_ops(Bundle.load(tiny_bundle).model_file("int8"))
    assert after["QAttention"] == before["QAttention"] == 2 and "SelfAttention" not in after
    assert counts == {"SelfAttention": 0, "Gelu": 2, "AddLayerNorm": 4, "first_token_tail": 0}


def test_export_writes_checked_engine_graphs(tiny_bundle):
    bundle = Bundle.load(tiny_bundle)
    checks = bundle.manifest["engine_graphs"]
    assert bundle.manifest["engine_files"] == {"fp32": "model.engine.onnx", "int8": "model.int8.engine.onnx",
                                               "int8_static": "model.int8_static.engine.onnx"}
    assert checks["fp32"]["max_abs_diff_vs_standard"] < 1e-4
    int8 = checks["int8"]
    assert int8["crossrank_ops"] == {"SelfAttention": 0, "Gelu": 2, "AddLayerNorm": 4, "first_token_tail": 0}
    assert int8["checked_on_this_cpu"] is (_native.KERNELS == "avx512")
    assert int8["mean_abs_diff_vs_fp32"] <= 1.25 * int8["standard_mean_abs_diff_vs_fp32"] + 1e-4
    assert 0 < int8["mean_abs_diff_vs_fp32"] <= int8["max_abs_diff_vs_fp32"]
    for precision in ("fp32", "int8"):
        engine_file = tiny_bundle / bundle.manifest["engine_files"][precision]
        # The engine runs engine graphs where crossrank's AVX-512 kernels run, else the standard ones.
        expected = engine_file if _native.KERNELS == "avx512" else bundle.model_file(precision)
        assert bundle.runtime_model_file(precision) == expected
        plain = dataclasses.replace(bundle, engine_files={})
        assert plain.runtime_model_file(precision) == bundle.model_file(precision)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("max_batch_size", [1, 8])
def test_engine_graph_scores_like_the_standard_graph(minilm_bundle, precision, max_batch_size):
    # MiniLM's 32-wide heads run the AVX-512 kernel; batches of 8 put padding into the graph.
    from crossrank.export import VERIFICATION_PAIRS
    from crossrank.export.fidelity import builtin_pools

    bundle = Bundle.load(minilm_bundle)
    if bundle.runtime_model_file(precision) == bundle.model_file(precision):
        pytest.skip("this CPU has no AVX-512: the engine runs the standard graphs")
    pairs = list(VERIFICATION_PAIRS) + [(p.query, d) for p in builtin_pools(2, 30) for d in p.docs]
    standard = dataclasses.replace(bundle, engine_files={})
    kw = dict(precision=precision, activation="none", max_batch_size=max_batch_size)
    ours = np.array(Reranker(bundle, **kw).score_pairs(pairs))
    theirs = np.array(Reranker(standard, **kw).score_pairs(pairs))
    if precision == "fp32":
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    else:
        # int8 rounding turns the kernels' ~1e-7 differences into int8-sized noise (export/verify.py,
        # engine_graphs): the engine graph must be as close to fp32 on average as the standard one.
        fp32 = np.array(Reranker(standard, precision="fp32", activation="none").score_pairs(pairs))
        assert np.abs(ours - fp32).mean() <= 1.25 * np.abs(theirs - fp32).mean() + 1e-4


@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
def test_gelu_matches_the_erf_form(portable):
    from scipy.special import erf

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(scale=3.0, size=4099), [0.0, -0.0, 40.0, -40.0, 1e-30, -6.0, 3e38, -3e38]])
    x = x.astype(np.float32).reshape(1, -1)  # 4107 values: the vector kernel's masked tail runs too
    exact = 0.5 * x.astype(np.float64) * (1 + erf(x.astype(np.float64) / np.sqrt(2)))
    out = _native.testing.gelu(x, portable=portable)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, exact, atol=2e-6, rtol=1e-6)


@pytest.mark.parametrize("portable", [False, True], ids=["fastest", "portable"])
@pytest.mark.parametrize("width", [384, 40])
def test_add_layer_norm_matches_numpy(width, portable):
    rng = np.random.default_rng(width)
    x, residual = (rng.normal(loc=3.0, scale=2.0, size=(37, width)).astype(np.float32) for _ in range(2))
    gamma, beta = (rng.normal(size=width).astype(np.float32) for _ in range(2))
    s = x.astype(np.float64) + residual
    expected = (s - s.mean(1, keepdims=True)) / np.sqrt(s.var(1, keepdims=True) + 1e-12) * gamma + beta
    out = _native.testing.add_layer_norm(x, residual, gamma, beta, 1e-12, portable=portable)
    np.testing.assert_allclose(out, expected, atol=2e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="gamma and beta"):
        _native.testing.add_layer_norm(x, residual, gamma[:-1], beta, 1e-12)
