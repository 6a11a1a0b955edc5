"""The bf16 rung: the graph rewrite onto MatMulBf16, the rung in an export, its agreement with fp32,
and what happens on a CPU without AVX512-BF16 (mocked: _native.BF16_KERNELS set to False)."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from crossrank import _native
from export_cases import PAIRS, read_manifest

PAIRS_NO_LONG = PAIRS[:-1]
needs_bf16 = pytest.mark.skipif(not _native.BF16_KERNELS, reason="this CPU has no AVX512-BF16")


def _scores(bundle, precision, pairs, **kwargs):
    from crossrank.reranker import Reranker

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = Reranker(bundle, precision=precision, activation="none", **kwargs)
        return np.asarray(r.score_pairs(pairs, show_progress=False), dtype=np.float64)


def _toy_graph():
    """x [rows, 8] -> MatMul(W1) + b1 -> MatMul(W2) (no bias) -> MatMul(itself ᵀ) (no constant weight),
    plus a MatMul whose weight a graph input can override (it must stay fp32)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
             for n, s in (("W1", (8, 6)), ("b1", (6,)), ("W2", (6, 5)), ("W3", (5, 5)))]
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"], name="m1"),
             helper.make_node("Add", ["b1", "h"], ["hb"], name="bias1"),
             helper.make_node("MatMul", ["hb", "W2"], ["y"], name="m2"),
             helper.make_node("Transpose", ["y"], ["yt"], perm=[1, 0]),
             helper.make_node("MatMul", ["y", "yt"], ["gram"], name="m3"),
             helper.make_node("MatMul", ["y", "W3"], ["z"], name="m4")]
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 8]),
                       helper.make_tensor_value_info("W3", TensorProto.FLOAT, [5, 5])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("gram", "z")], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_rewrite_fuses_bias_and_leaves_what_it_cannot_take():
    from crossrank.export.bf16_graph import OP, make_bf16_graph
    from crossrank.export.engine_graph import DOMAIN

    model = _toy_graph()
    out, counts = make_bf16_graph(model)
    assert counts == {OP: 2, "with_bias": 1, "MatMul_left": 2}
    ops = [(n.op_type, list(n.input), list(n.output)) for n in out.graph.node]
    assert ops[0] == (OP, ["x", "W1", "b1"], ["hb"])  # MatMul + Add: one node, the Add's output
    assert ops[1] == (OP, ["hb", "W2"], ["y"])
    assert ("MatMul", ["y", "yt"], ["gram"]) in ops and ("MatMul", ["y", "W3"], ["z"]) in ops
    assert not any(n.op_type == "Add" for n in out.graph.node)
    assert any(o.domain == DOMAIN for o in out.opset_import)
    assert len(model.graph.node) == 6  # the input model is left as it was


@needs_bf16
def test_tiny_bundle_has_the_bf16_rung(tiny_bundle):
    m = read_manifest(tiny_bundle)
    r = json.loads((tiny_bundle / "report.json").read_text(encoding="utf-8"))
    bf16 = r["bf16"]
    assert m["files"]["bf16"] == "model.bf16.engine.onnx" == bf16["file"]
    assert "model.bf16.engine.onnx" in m["checksums_sha256"]
    assert bf16["from"] == "model.engine.onnx" and bf16["ops"]["MatMulBf16"] >= 4  # 2 layers x (out, FFN x 2)
    assert set(bf16["metrics"]) == {"builtin", "web"} and isinstance(bf16["passed"], bool)
    assert r["rungs"]["order"] == ["int8_static", "int8", "bf16", "fp32"]
    assert r["rungs"]["rungs"]["bf16"]["agreement"] == bf16["metrics"]


@needs_bf16
def test_bf16_against_fp32_on_the_tiny_model(tiny_bundle):
    """Stated tolerance: max |logit difference| at most 2 % of the largest |logit| (bf16 keeps 8
    significant bits; sums stay fp32)."""
    fp32 = _scores(tiny_bundle, "fp32", PAIRS_NO_LONG)
    diff = np.abs(_scores(tiny_bundle, "bf16", PAIRS_NO_LONG) - fp32)
    assert 0 < diff.max() <= 0.02 * np.abs(fp32).max()


@needs_bf16
@pytest.mark.parametrize("batch", [4, 64])
def test_bf16_scores_do_not_depend_on_batch_mates(tiny_bundle, batch):
    alone = _scores(tiny_bundle, "bf16", PAIRS, max_batch_size=1)
    batched = _scores(tiny_bundle, "bf16", PAIRS[::-1], max_batch_size=batch)[::-1]
    assert np.abs(alone - batched).max() <= 1e-6


def test_reranker_refuses_bf16_on_a_cpu_without_it(tiny_bundle, monkeypatch):
    from crossrank.reranker import Reranker

    monkeypatch.setattr(_native, "BF16_KERNELS", False)
    with pytest.raises(ValueError, match=r"precision='bf16' needs a CPU with AVX512-BF16.*"
                                         r"use one of 'int8_static', 'int8', 'fp32'"):
        Reranker(tiny_bundle, precision="bf16")


def _with_default(bundle, folder, default, rungs):
    shutil.copytree(bundle, folder)
    manifest = read_manifest(folder)
    manifest.update(default_precision=default, precision_rungs=rungs)
    (folder / "crossrank.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_a_bf16_default_falls_back_where_the_cpu_lacks_it(tiny_bundle, tmp_path, monkeypatch):
    from crossrank.reranker import Reranker

    rungs = {"int8_static": {"passed": False, "speedup_vs_fp32": 3.0}, "int8": {"passed": True, "speedup_vs_fp32": 2.5},
             "bf16": {"passed": True, "speedup_vs_fp32": 2.0}, "fp32": {"passed": True, "speedup_vs_fp32": 1.0}}
    folder = _with_default(tiny_bundle, tmp_path / "b", "bf16", rungs)
    monkeypatch.setattr(_native, "BF16_KERNELS", False)
    with pytest.warns(RuntimeWarning, match="default precision 'bf16' needs AVX512-BF16.*using 'int8'"):
        assert Reranker(folder).precision == "int8"
    for rung in ("int8", "int8_static"):  # no faster passing rung; then one that passes but is slower than fp32
        rungs[rung].update(passed=rung == "int8_static", speedup_vs_fp32=0.9)
    folder = _with_default(tiny_bundle, tmp_path / "c", "bf16", rungs)
    with pytest.warns(RuntimeWarning, match="using 'fp32'"):
        assert Reranker(folder).precision == "fp32"


def test_the_gate_skips_bf16_on_a_cpu_without_it(tiny_bundle, tmp_path, monkeypatch):
    """The export on such a CPU builds no bf16 graph and says why; a bf16 file that passed elsewhere
    is neither timed nor chosen."""
    from crossrank.export.bf16_rung import bf16_step
    from crossrank.export.precision_steps import rung_step
    from crossrank.export.report import pool_sets

    folder = tmp_path / "b"
    shutil.copytree(tiny_bundle, folder)
    manifest = read_manifest(folder)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    monkeypatch.setattr(_native, "BF16_KERNELS", False)
    fresh: dict = {"gated_on": report["gated_on"]}
    assert "AVX512-BF16" in bf16_step(folder, {"files": {}}, fresh, [], None, say=lambda _: None)["skipped"]
    manifest["files"]["bf16"] = "model.bf16.engine.onnx"
    (folder / "model.bf16.engine.onnx").write_bytes(b"never loaded")
    report["bf16"] = {"passed": True, "metrics": {}}
    report["gate"]["passed"] = report["int8_static"]["passed"] = False
    table = rung_step(folder, manifest, report, pool_sets(None, None, 10), True)
    assert "bf16" not in table["rungs"] and table["chosen"] == manifest["default_precision"] == "fp32"


@pytest.mark.parametrize("int8_passes,chosen", [(False, "bf16"), (True, "int8")])
def test_choose_rung_takes_bf16_when_it_is_the_fastest_passing(int8_passes, chosen):
    from crossrank.export.rungs import choose_rung

    timed = {"int8": (int8_passes, 0.3), "bf16": (True, 0.5), "fp32": (True, 1.0)}
    assert choose_rung({p: {"passed": ok, "seconds": s} for p, (ok, s) in timed.items()}) == chosen


@needs_bf16
def test_a_bf16_graph_the_engine_fails_on_costs_the_rung_not_the_export(tiny_bundle, tmp_path, monkeypatch):
    from crossrank.export import bf16_rung, rungs

    folder = tmp_path / "b"
    shutil.copytree(tiny_bundle, folder)
    (folder / "model.bf16.engine.onnx").unlink()
    manifest = read_manifest(folder)
    del manifest["files"]["bf16"]

    def broken(*args, **kwargs):
        raise RuntimeError("MatMulBf16: input a must have rank 2 or more")

    monkeypatch.setattr(rungs, "make_scorer", broken)  # the rung measures through rungs.rung_agreement
    entry = bf16_rung.bf16_step(folder, manifest, {"gated_on": ["builtin"]}, [], None, say=lambda _: None)
    assert "the engine failed on the bf16 graph of model.engine.onnx: MatMulBf16: input a" in entry["skipped"]
    assert not (folder / "model.bf16.engine.onnx").exists() and "bf16" not in manifest["files"]
