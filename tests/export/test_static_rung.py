"""The static int8 rung as the export builds it: the search's record, the fp32 fallback in the
shipped graph, and the split attention core through crossrank's engine (a tiny model with heads
32 wide, which the attention kernel takes)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from export_cases import PAIRS, read_manifest
from fixture_helpers import _need_export_extra, make_tiny_model_dir
from test_precision import _scores

PAIRS_NO_LONG = PAIRS[:-1]


@pytest.fixture(scope="module")
def wide_head_bundle(export_module, minilm_model_dir, tmp_path_factory):
    """A 2-layer, 64-wide BERT with 2 heads of 32 (the tiny model's heads are 16 wide: the kernel
    leaves those fused, so nothing would be split), exported with the gate off."""
    _need_export_extra()
    import torch

    folder = make_tiny_model_dir(tmp_path_factory.mktemp("hf") / "wide-head", minilm_model_dir)
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig.from_pretrained(folder)
    config.hidden_size, config.intermediate_size = 64, 128
    torch.manual_seed(7)
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(25.0)
    model.save_pretrained(folder, safe_serialization=True)
    return export_module.export_bundle(folder, tmp_path_factory.mktemp("b") / "wide", progress=False,
                                       verify=False, gate=False)


def _report(bundle):
    return json.loads((bundle / "report.json").read_text(encoding="utf-8"))


def test_search_is_recorded_with_its_seconds(tiny_bundle):
    static = _report(tiny_bundle)["int8_static"]
    search = static["search"]
    assert [t["name"] for t in search["tries"][:2]] == ["no smoothing", "smoothing alpha 0.5"]
    assert all(t["score_error"] >= 0 for t in search["tries"])
    assert {"split_attention", "smoothing_and_calibration"} <= set(search["seconds"])
    assert search["chosen_error"] == min(t["score_error"] for t in search["tries"])
    assert search["why"].startswith(("smoothing alpha", "no smoothing"))
    assert static["quantization"]["smoothing"]["alpha"] in (None, 0.5)


def test_kept_matmuls_are_fp32_in_the_shipped_graph(tiny_bundle):
    import onnx

    from crossrank.export.sensitivity import quantized_matmuls

    static = _report(tiny_bundle)["int8_static"]
    graph = onnx.load(str(tiny_bundle / "model.int8_static.onnx"))
    quantized = quantized_matmuls(graph)
    kept = static["quantization"]["kept_fp32_nodes"]
    assert not set(kept) & set(quantized)
    assert len(quantized) == static["quantization"]["quantized_matmuls"]
    if static["search"]["sensitivity"]:
        ranked = [e["node"] for e in static["search"]["sensitivity"]]
        assert kept == ranked[:len(kept)]  # worst first


def test_split_attention_core_runs_on_the_engine_kernel(wide_head_bundle):
    m = read_manifest(wide_head_bundle)
    static = _report(wide_head_bundle)["int8_static"]
    assert static["search"]["split_attention"] == 2
    engine = m["engine_graphs"]["int8_static"]
    assert engine["file"] and engine["crossrank_ops"]["SelfAttention"] == 2  # checked against the standard graph
    import onnx

    from crossrank.export.sensitivity import quantized_matmuls

    names = quantized_matmuls(onnx.load(str(wide_head_bundle / "model.int8_static.onnx")))
    kept = static["quantization"]["kept_fp32_nodes"]
    qkv = [n for n in names if n.endswith("/qkv/MatMul")]
    assert len(qkv) + len([k for k in kept if k.endswith("/qkv/MatMul")]) == 2  # QKV static int8 unless kept


@pytest.mark.parametrize("batch", [3, 64])
def test_split_static_int8_is_batch_invariant(wide_head_bundle, batch):
    alone = _scores(wide_head_bundle, "int8_static", PAIRS, max_batch_size=1)
    reverse = _scores(wide_head_bundle, "int8_static", PAIRS[::-1], max_batch_size=batch)[::-1]
    assert np.abs(alone - reverse).max() <= 1e-6


def test_split_static_int8_against_fp32(wide_head_bundle):
    """Same yardstick as the tiny model's rungs: max |logit difference| within 10 % of the largest |logit|."""
    fp32 = _scores(wide_head_bundle, "fp32", PAIRS_NO_LONG)
    diff = np.abs(_scores(wide_head_bundle, "int8_static", PAIRS_NO_LONG) - fp32)
    assert diff.max() <= 0.1 * np.abs(fp32).max()
