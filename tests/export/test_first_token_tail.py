"""The first-token tail (crossrank/export/first_token_tail.py): the last layer after its attention runs
on the first token alone. It must change no score on any graph it narrows, alone and in padded
batches, and must leave alone the graphs where the other rows matter."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import onnx
import pytest

from crossrank import _native
from crossrank.bundle import Bundle

# Each precision's standard graph, the engine file it becomes, and (kernel rungs) the op its MatMuls
# move onto from the fp32 engine graph.
GRAPHS = {"fp32": ("model.onnx", "model.engine.onnx", None),
          "int8_static": ("model.int8_static.onnx", "model.int8_static.engine.onnx", None),
          "int8_token": ("model.onnx", "model.int8_token.engine.onnx", "MatMulInt8Token"),
          "bf16": ("model.onnx", "model.bf16.engine.onnx", "MatMulBf16")}


def _engine_model(bundle, precision: str, tail: bool):
    from crossrank.export.engine_graph import make_engine_graph
    from crossrank.export.weight_matmul_graph import make_weight_matmul_graph

    standard, _, op = GRAPHS[precision]
    model, counts = make_engine_graph(onnx.load(str(bundle / standard)), first_token_tail=tail)
    assert counts["first_token_tail"] == int(tail)
    if op:
        model, _ = make_weight_matmul_graph(model, op)
    return model


def _scores(folder, precision, pairs, batch):
    from crossrank.reranker import Reranker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Reranker(folder, precision=precision, activation="none", max_batch_size=batch, verify_checksums=False)
        return np.asarray(r.score_pairs(pairs, show_progress=False), dtype=np.float64)


@pytest.mark.parametrize("precision", list(GRAPHS))
def test_narrowed_graph_scores_what_the_full_graph_scores(minilm_bundle, tmp_path, precision):
    from crossrank.export import VERIFICATION_PAIRS
    from crossrank.export.fidelity import builtin_pools

    if _native.KERNELS != "avx512":
        pytest.skip("this CPU has no AVX-512: the engine runs the standard graphs")
    if precision not in Bundle.load(minilm_bundle).model_files:
        pytest.skip(f"the bundle has no {precision} rung on this CPU")
    pairs = list(VERIFICATION_PAIRS) + [(p.query, d) for p in builtin_pools(1, 24) for d in p.docs]
    scores = {}
    for tail in (True, False):
        folder = tmp_path / str(tail)
        shutil.copytree(minilm_bundle, folder)
        onnx.save(_engine_model(minilm_bundle, precision, tail), str(folder / GRAPHS[precision][1]))
        # Alone, and in batches of 8 where the last layer's attention must still skip padding keys.
        scores[tail] = [_scores(folder, precision, pairs, batch) for batch in (1, 8)]
    for narrowed, full in zip(scores[True], scores[False]):
        if GRAPHS[precision][2] or precision == "int8_static":
            # crossrank's kernels and ONNX Runtime's integer MatMuls compute a row alike in any batch.
            np.testing.assert_array_equal(narrowed, full)
        else:  # ONNX Runtime may take another float GEMM path for one row than for many
            np.testing.assert_allclose(narrowed, full, rtol=0, atol=1e-5)


def test_export_narrows_every_graph_but_dynamic_int8(minilm_bundle):
    manifest = Bundle.load(minilm_bundle).manifest
    checks = manifest["engine_graphs"]
    assert checks["fp32"]["crossrank_ops"]["first_token_tail"] == 1
    assert checks["int8"]["crossrank_ops"]["first_token_tail"] == 0
    assert "DynamicQuantizeLinear" in checks["int8"]["not_on_kernels"]["first_token_tail"]
    for precision, name in manifest["engine_files"].items():
        if precision == "int8":
            continue
        attention = [n for n in onnx.load(str(minilm_bundle / name)).graph.node if n.op_type == "SelfAttention"]
        rows = [next((a.i for a in n.attribute if a.name == "query_rows"), 0) for n in attention]
        assert rows == [0] * (len(attention) - 1) + [1], precision  # the last layer's attention alone


def _full_fp32_engine(bundle):
    from crossrank.export.engine_graph import make_engine_graph

    return make_engine_graph(onnx.load(str(bundle / "model.onnx")), first_token_tail=False)[0]


def test_a_head_that_reads_every_position_keeps_every_row(minilm_bundle):
    from crossrank.export.first_token_tail import narrow_to_first_token, why_not_narrowed

    model = _full_fp32_engine(minilm_bundle)
    readout = next(n for n in model.graph.node if n.op_type == "Gather" and any(a.i == 1 for a in n.attribute))
    # Mean pooling instead of the first token.
    pooled = onnx.helper.make_node("ReduceMean", [readout.input[0]], list(readout.output), axes=[1], keepdims=0)
    nodes = [pooled if n.op_type == "Gather" and n.output == readout.output else n for n in model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    assert "first-token position" in why_not_narrowed(model.graph)
    assert not narrow_to_first_token(model)


def test_a_last_layer_tensor_read_elsewhere_keeps_every_row(minilm_bundle):
    from crossrank.export.first_token_tail import narrow_to_first_token, why_not_narrowed

    model = _full_fp32_engine(minilm_bundle)
    norms = [n for n in model.graph.node if n.op_type == "AddLayerNorm"]
    # The last layer's attention LayerNorm also leaves the graph: all its rows are an output.
    model.graph.output.append(onnx.helper.make_tensor_value_info(norms[-2].output[0], onnx.TensorProto.FLOAT, None))
    assert "read elsewhere" in why_not_narrowed(model.graph)
    assert not narrow_to_first_token(model)
    before = model.SerializeToString()
    assert not narrow_to_first_token(model) and model.SerializeToString() == before  # untouched


def test_narrowing_slices_the_residual_stream_once(minilm_bundle):
    from crossrank.export.first_token_tail import narrow_to_first_token

    model = _full_fp32_engine(minilm_bundle)
    nodes_before = len(model.graph.node)
    assert narrow_to_first_token(model)
    slices = [n for n in model.graph.node if n.op_type == "Slice" and "first_token" in n.name]
    # The previous layer's output feeds the last layer's residual Add + LayerNorm: one Slice.
    assert len(slices) == 1 and len(model.graph.node) == nodes_before + 1
    norms = [n for n in model.graph.node if n.op_type == "AddLayerNorm"]
    assert norms[-2].input[1] == slices[0].output[0] and slices[0].input[0] == norms[-3].output[0]
    onnx.checker.check_model(model)
