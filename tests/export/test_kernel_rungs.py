"""The kernel rungs (int8_token, bf16): the graph rewrite onto crossrank's GEMMs, each rung in an export,
its agreement with fp32, and what happens on a CPU without the instructions (mocked: the _native flag
set to False)."""

from __future__ import annotations

import json
import shutil
import warnings
from typing import NamedTuple

import numpy as np
import pytest

from crossrank import _native
from export_cases import PAIRS, read_manifest

PAIRS_NO_LONG = PAIRS[:-1]


class Rung(NamedTuple):
    precision: str
    flag: str  # the _native attribute that says whether this CPU runs it
    op: str
    needs: str  # the instructions, as the errors name them
    tolerance: float  # max |logit difference| vs fp32 on the tiny model, as a fraction of the largest |logit|


# bf16 keeps 8 significant bits (sums stay fp32): 2 %. int8 per token and per column keeps ~7 bits of
# each, exact int32 sums: 3 %.
RUNGS = [Rung("int8_token", "INT8_TOKEN_KERNELS", "MatMulInt8Token", "AVX512-VNNI", 0.03),
         Rung("bf16", "BF16_KERNELS", "MatMulBf16", "AVX512-BF16", 0.02)]
EACH = pytest.mark.parametrize("rung", RUNGS, ids=[r.precision for r in RUNGS])


def _runs(rung: Rung) -> None:
    if not getattr(_native, rung.flag):
        pytest.skip(f"this CPU has no {rung.needs}")


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


@EACH
def test_rewrite_fuses_bias_and_leaves_what_it_cannot_take(rung):
    from crossrank.export.engine_graph import DOMAIN
    from crossrank.export.weight_matmul_graph import make_weight_matmul_graph

    model, op = _toy_graph(), rung.op
    out, counts = make_weight_matmul_graph(model, op)
    assert counts == {op: 2, "with_bias": 1, "with_gelu": 0, "with_layer_norm": 0, "MatMul_left": 2,
                      "bf16_attention": 0}
    ops = [(n.op_type, list(n.input), list(n.output)) for n in out.graph.node]
    assert ops[0] == (op, ["x", "W1", "b1"], ["hb"])  # MatMul + Add: one node, the Add's output
    assert ops[1] == (op, ["hb", "W2"], ["y"])
    assert ("MatMul", ["y", "yt"], ["gram"]) in ops and ("MatMul", ["y", "W3"], ["z"]) in ops
    assert not any(n.op_type == "Add" for n in out.graph.node)
    assert any(o.domain == DOMAIN for o in out.opset_import)
    assert len(model.graph.node) == 6  # the input model is left as it was


def _gelu_graph(gelu_domain: str, second_user: bool = False, attribute: bool = False):
    """x -> MatMul(W1) + b1 -> Gelu -> MatMul(W2) -> y; optionally the Add's output also feeds an
    Identity (so the Gelu may not take it), or the Gelu carries an attribute (another GELU form)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
             for n, s in (("W1", (8, 16)), ("b1", (16,)), ("W2", (16, 4)))]
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"], name="up"),
             helper.make_node("Add", ["h", "b1"], ["hb"], name="bias"),
             helper.make_node("Gelu", ["hb"], ["g"], name="gelu", domain=gelu_domain,
                              **({"approximate": "tanh"} if attribute else {})),
             helper.make_node("MatMul", ["g", "W2"], ["y"], name="down")]
    outputs = ["y"]
    if second_user:
        nodes.append(helper.make_node("Identity", ["hb"], ["hb_copy"]))
        outputs.append("hb_copy")
    graph = helper.make_graph(nodes, "gelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 8])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@EACH
@pytest.mark.parametrize("gelu_domain", ["ai.crossrank", "com.microsoft"])
def test_rewrite_moves_a_following_gelu_into_the_gemm(rung, gelu_domain):
    from crossrank.export.weight_matmul_graph import make_weight_matmul_graph

    out, counts = make_weight_matmul_graph(_gelu_graph(gelu_domain), rung.op)
    assert counts == {rung.op: 2, "with_bias": 1, "with_gelu": 1, "with_layer_norm": 0, "MatMul_left": 0,
                      "bf16_attention": 0}
    up, down = out.graph.node
    assert (list(up.input), list(up.output)) == (["x", "W1", "b1"], ["g"])  # the Gelu's output
    assert [(a.name, a.s) for a in up.attribute] == [("activation", b"gelu")] and not down.attribute


@EACH
@pytest.mark.parametrize("case", ["shared output", "tanh form"])
def test_rewrite_leaves_a_gelu_it_cannot_take(rung, case):
    from crossrank.export.weight_matmul_graph import make_weight_matmul_graph

    model = _gelu_graph("com.microsoft", second_user=case == "shared output", attribute=case == "tanh form")
    out, counts = make_weight_matmul_graph(model, rung.op)
    assert counts["with_gelu"] == 0 and counts["with_bias"] == 1
    assert [n.op_type for n in out.graph.node][:2] == [rung.op, "Gelu"]
    assert not out.graph.node[0].attribute


@EACH
@pytest.mark.parametrize("residual_first", [False, True])
def test_rewrite_moves_a_following_residual_layer_norm_into_the_gemm(rung, residual_first):
    from onnx import TensorProto, helper, numpy_helper

    from crossrank.export.engine_graph import DOMAIN
    from crossrank.export.weight_matmul_graph import make_weight_matmul_graph

    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n)
             for n, s in (("W", (8, 8)), ("b", (8,)), ("W2", (8, 8)), ("gamma", (8,)), ("beta", (8,)))]
    summands = ["r", "hb"] if residual_first else ["hb", "r"]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="out"),
             helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Identity", ["x"], ["r"]),  # the residual comes after the MatMul
             helper.make_node("AddLayerNorm", [*summands, "gamma", "beta"], ["y"], domain=DOMAIN, epsilon=1e-12),
             helper.make_node("MatMul", ["y", "W2"], ["h2"], name="no_bias"),  # no bias: its norm stays
             helper.make_node("AddLayerNorm", ["h2", "y", "gamma", "beta"], ["z"], domain=DOMAIN, epsilon=1e-12)]
    graph = helper.make_graph(nodes, "norm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 8])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], inits)
    out, counts = make_weight_matmul_graph(helper.make_model(graph), rung.op)
    assert counts == {rung.op: 2, "with_bias": 1, "with_gelu": 0, "with_layer_norm": 1, "MatMul_left": 0,
                      "bf16_attention": 0}
    identity, fused = out.graph.node[:2]  # the GEMM takes the AddLayerNorm's place, after its residual
    assert identity.op_type == "Identity"
    assert (list(fused.input), list(fused.output)) == (["x", "W", "b", "r", "gamma", "beta"], ["y"])
    assert [(a.name, round(a.f, 15)) for a in fused.attribute] == [("epsilon", 1e-12)]
    assert [n.op_type for n in out.graph.node[2:]] == [rung.op, "AddLayerNorm"]


@EACH
def test_fused_epilogues_score_the_same_bits_as_separate_operators(tiny_bundle, tmp_path, rung):
    """GELU and Add + LayerNorm inside the GEMM run the same code on the same floats as the Gelu and
    AddLayerNorm operators after it: the scores must not change by a bit."""
    import onnx

    from crossrank.export.weight_matmul_graph import make_weight_matmul_graph

    _runs(rung)
    scores = {}
    for epilogues in (True, False):  # every MatMul on the rung's op (the bundle's may keep some wider)
        folder = tmp_path / str(epilogues)
        shutil.copytree(tiny_bundle, folder)
        model, counts = make_weight_matmul_graph(onnx.load(str(folder / "model.engine.onnx")), rung.op,
                                                 epilogues=epilogues)
        assert (counts["with_gelu"], counts["with_layer_norm"]) == ((2, 4) if epilogues else (0, 0))
        onnx.save(model, str(folder / f"model.{rung.precision}.engine.onnx"))
        scores[epilogues] = _scores(folder, rung.precision, PAIRS, max_batch_size=4, verify_checksums=False)
    np.testing.assert_array_equal(scores[True], scores[False])


@EACH
def test_the_engine_names_an_unknown_activation(tiny_bundle, tmp_path, rung):
    import onnx

    from crossrank.reranker import Reranker

    _runs(rung)
    folder = tmp_path / "b"
    shutil.copytree(tiny_bundle, folder)
    path = folder / f"model.{rung.precision}.engine.onnx"
    model = onnx.load(str(path))
    fused = next(n for n in model.graph.node for a in n.attribute if a.name == "activation")
    fused.attribute[0].s = b"relu"
    onnx.save(model, str(path))
    with pytest.raises(Exception, match='attribute activation must be "gelu" or empty, got "relu"'):
        Reranker(folder, precision=rung.precision, verify_checksums=False).score_pairs(PAIRS[:1])


@EACH
def test_tiny_bundle_has_the_rung(tiny_bundle, rung):
    _runs(rung)
    m = read_manifest(tiny_bundle)
    r = json.loads((tiny_bundle / "report.json").read_text(encoding="utf-8"))
    entry, file = r[rung.precision], f"model.{rung.precision}.engine.onnx"
    assert m["files"][rung.precision] == file == entry["file"] and file in m["checksums_sha256"]
    assert entry["from"] == "model.engine.onnx" and entry["ops"][rung.op] >= 4  # 2 layers x (out, FFN x 2)
    assert entry["ops"]["with_gelu"] == 2  # each layer's FFN GELU, now in its first GEMM
    assert entry["ops"]["with_layer_norm"] == 4  # each sub-layer's residual LayerNorm, in its last GEMM
    assert set(entry["metrics"]) == {"builtin", "web"} and isinstance(entry["passed"], bool)
    assert rung.precision in r["rungs"]["order"] and r["rungs"]["order"][-1] == "fp32"
    assert r["rungs"]["rungs"][rung.precision]["agreement"] == entry["metrics"]


@EACH
def test_rung_against_fp32_on_the_tiny_model(tiny_bundle, rung):
    """Stated tolerance per rung (RUNGS), and the rung is not fp32 in disguise."""
    _runs(rung)
    fp32 = _scores(tiny_bundle, "fp32", PAIRS_NO_LONG)
    diff = np.abs(_scores(tiny_bundle, rung.precision, PAIRS_NO_LONG) - fp32)
    assert 0 < diff.max() <= rung.tolerance * np.abs(fp32).max()


@EACH
@pytest.mark.parametrize("batch", [4, 64])
def test_scores_do_not_depend_on_batch_mates(tiny_bundle, rung, batch):
    _runs(rung)
    alone = _scores(tiny_bundle, rung.precision, PAIRS, max_batch_size=1)
    batched = _scores(tiny_bundle, rung.precision, PAIRS[::-1], max_batch_size=batch)[::-1]
    assert np.abs(alone - batched).max() <= 1e-6


@EACH
def test_reranker_refuses_the_rung_on_a_cpu_without_it(tiny_bundle, monkeypatch, rung):
    from crossrank.reranker import Reranker

    monkeypatch.setattr(_native, rung.flag, False)
    with pytest.raises(ValueError, match=rf"precision='{rung.precision}' needs a CPU with {rung.needs}.*use one of "
                                         rf"'int8_static', .*'int8', .*'fp32'"):
        Reranker(tiny_bundle, precision=rung.precision)


def _with_default(bundle, folder, default, rungs):
    shutil.copytree(bundle, folder)
    manifest = read_manifest(folder)
    manifest.update(default_precision=default, precision_rungs=rungs)
    (folder / "crossrank.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@EACH
def test_a_kernel_rung_default_falls_back_where_the_cpu_lacks_it(tiny_bundle, tmp_path, monkeypatch, rung):
    from crossrank.reranker import Reranker

    rungs = {"int8_static": {"passed": False, "speedup_vs_fp32": 3.0}, "int8": {"passed": True, "speedup_vs_fp32": 2.5},
             rung.precision: {"passed": True, "speedup_vs_fp32": 2.0}, "fp32": {"passed": True, "speedup_vs_fp32": 1.0}}
    folder = _with_default(tiny_bundle, tmp_path / "b", rung.precision, rungs)
    monkeypatch.setattr(_native, rung.flag, False)
    with pytest.warns(RuntimeWarning, match=f"default precision '{rung.precision}' needs {rung.needs}.*using 'int8'"):
        assert Reranker(folder).precision == "int8"
    for other in ("int8", "int8_static"):  # no faster passing rung; then one that passes but is slower than fp32
        rungs[other].update(passed=other == "int8_static", speedup_vs_fp32=0.9)
    folder = _with_default(tiny_bundle, tmp_path / "c", rung.precision, rungs)
    with pytest.warns(RuntimeWarning, match="using 'fp32'"):
        assert Reranker(folder).precision == "fp32"


@EACH
def test_the_gate_skips_the_rung_on_a_cpu_without_it(tiny_bundle, tmp_path, monkeypatch, rung):
    """The export on such a CPU builds no graph for the rung and says why; a file that passed
    elsewhere is neither timed nor chosen."""
    from crossrank.export.kernel_rungs import KERNEL_RUNGS, kernel_rung_step
    from crossrank.export.precision_steps import rung_step
    from crossrank.export.report import pool_sets

    folder = tmp_path / "b"
    shutil.copytree(tiny_bundle, folder)
    manifest = read_manifest(folder)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    monkeypatch.setattr(_native, rung.flag, False)
    step = next(k for k in KERNEL_RUNGS if k.precision == rung.precision)
    fresh: dict = {"gated_on": report["gated_on"]}
    assert rung.needs in kernel_rung_step(step, folder, {"files": {}}, fresh, [], None, say=lambda _: None)["skipped"]
    file = f"model.{rung.precision}.engine.onnx"
    manifest["files"][rung.precision] = file
    (folder / file).write_bytes(b"never loaded")
    for other in ("int8_token", "bf16"):
        if other != rung.precision and other in manifest["files"]:  # the other kernel rung fails here
            report[other] = {"passed": False, "metrics": {}}
    report[rung.precision] = {"passed": True, "metrics": {}}
    report["gate"]["passed"] = report["int8_static"]["passed"] = False
    table = rung_step(folder, manifest, report, pool_sets(None, None, 10), True)
    assert rung.precision not in table["rungs"] and table["chosen"] == manifest["default_precision"] == "fp32"


@pytest.mark.parametrize("int8_passes,chosen", [(False, "bf16"), (True, "int8")])
def test_choose_rung_takes_a_kernel_rung_when_it_is_the_fastest_passing(int8_passes, chosen):
    from crossrank.export.rungs import choose_rung

    timed = {"int8": (int8_passes, 0.3), "bf16": (True, 0.5), "fp32": (True, 1.0)}
    assert choose_rung({p: {"passed": ok, "seconds": s} for p, (ok, s) in timed.items()}) == chosen


@EACH
def test_a_graph_the_engine_fails_on_costs_the_rung_not_the_export(tiny_bundle, tmp_path, monkeypatch, rung):
    from crossrank.export import rungs
    from crossrank.export.kernel_rungs import KERNEL_RUNGS, kernel_rung_step

    _runs(rung)
    folder = tmp_path / "b"
    shutil.copytree(tiny_bundle, folder)
    file = f"model.{rung.precision}.engine.onnx"
    (folder / file).unlink()
    manifest = read_manifest(folder)
    del manifest["files"][rung.precision]

    def broken(*args, **kwargs):
        raise RuntimeError(f"{rung.op}: input a must have rank 2 or more")

    monkeypatch.setattr(rungs, "make_scorer", broken)  # the rung measures through rungs.rung_agreement
    step = next(k for k in KERNEL_RUNGS if k.precision == rung.precision)
    entry = kernel_rung_step(step, folder, manifest, {"gated_on": ["builtin"]}, [], None, say=lambda _: None)
    assert (f"the engine failed on the {rung.precision} graph of model.engine.onnx: {rung.op}: input a"
            in entry["skipped"])
    assert not (folder / file).exists() and rung.precision not in manifest["files"]


def test_rewrite_can_skip_or_take_only_named_matmuls():
    from crossrank.export.weight_matmul_graph import BF16_OP, INT8_TOKEN_OP, make_weight_matmul_graph, weight_matmuls

    model = _toy_graph()
    assert weight_matmuls(model) == ["m1", "m2"]  # m3 has no constant weight, m4's an input can override
    skipped, counts = make_weight_matmul_graph(model, INT8_TOKEN_OP, skip={"m1"})
    assert counts[INT8_TOKEN_OP] == 1 and [n.name for n in skipped.graph.node if n.op_type == "MatMul"][0] == "m1"
    only, counts = make_weight_matmul_graph(model, BF16_OP, only={"m1"})
    assert counts == {BF16_OP: 1, "with_bias": 1, "with_gelu": 0, "with_layer_norm": 0, "MatMul_left": 3,
                      "bf16_attention": 0}
    assert [n.op_type for n in only.graph.node][:2] == [BF16_OP, "MatMul"]


def test_token_graph_puts_the_kept_matmuls_on_bf16():
    from crossrank.export.token_fallback import token_graph
    from crossrank.export.weight_matmul_graph import BF16_OP, INT8_TOKEN_OP

    model, counts = token_graph(_toy_graph(), ["m2"], BF16_OP)
    assert counts[INT8_TOKEN_OP] == 1 and counts[BF16_OP] == 1 and counts["MatMul_left"] == 2
    ops = {n.name: n.op_type for n in model.graph.node}
    assert ops["m1/MatMulInt8Token"] == INT8_TOKEN_OP and ops["m2/MatMulBf16"] == BF16_OP
    _, fp32_kept = token_graph(_toy_graph(), ["m2"], None)  # no bf16 on this CPU: the kept one stays fp32
    assert fp32_kept == {INT8_TOKEN_OP: 1, "with_bias": 1, "with_gelu": 0, "with_layer_norm": 0, "MatMul_left": 3,
                        "bf16_attention": 0}


def test_fallback_keeps_the_worst_first_until_the_gate_passes(tmp_path, monkeypatch):
    """Sensitivity ranks the MatMuls; tries keep 1, 2, ... of the worst wider and stop at the first
    that passes, whose graph replaces the rung's file (the engine is stubbed: this is the search)."""
    import onnx

    from crossrank.export import token_fallback

    source, target = tmp_path / "model.engine.onnx", tmp_path / "model.int8_token.engine.onnx"
    onnx.save(_toy_graph(), str(source))
    target.write_bytes(b"the all-int8 graph")
    monkeypatch.setattr(token_fallback, "sensitivity", lambda *a: {"m2": 0.3, "m1": 0.1})
    tries = []

    def agreement(folder, path, sets, thresholds, gate_sets, *, precision):
        weights = {"W1", "W2"}  # the constant-weight MatMuls; which of them is not on per-token int8?
        tries.append([n.name for n in onnx.load(str(path)).graph.node
                      if weights & set(n.input) and n.op_type != "MatMulInt8Token"])
        return {"metrics": {"builtin": {"top10_overlap": 0.96, "kendall_tau": 0.95}}, "passed": True}

    monkeypatch.setattr(token_fallback, "rung_agreement", agreement)
    record = token_fallback.fallback_search(tmp_path, source, target, [], None, ["builtin"], say=lambda _: None)
    assert record["passed"] and record["kept"] == ["m2"] and len(record["tries"]) == 1
    assert tries == [["m2/MatMulBf16" if _native.BF16_KERNELS else "m2"]]
    assert onnx.load(str(target)).graph.node  # the passing graph replaced the file
    assert not (tmp_path / f".try-{target.name}").exists()
    # A gate no try passes: every try recorded, the rung's file left as it was.
    target.write_bytes(b"the all-int8 graph")
    monkeypatch.setattr(token_fallback, "rung_agreement", lambda *a, **k: {
        "metrics": {"builtin": {"top10_overlap": 0.9, "kendall_tau": 0.9}}, "passed": False})
    record = token_fallback.fallback_search(tmp_path, source, target, [], None, ["builtin"], say=lambda _: None)
    assert not record["passed"] and len(record["tries"]) == 1  # 2 MatMuls: at most 1 kept
    assert target.read_bytes() == b"the all-int8 graph"


def _attention_graph():
    """x -> MatMul on a constant weight (the QKV projection) -> crossrank's SelfAttention."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((8, 24), np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["qkv"], name="qkv"),
             helper.make_node("SelfAttention", ["qkv", "lengths"], ["y"], name="core", domain="ai.crossrank",
                              num_heads=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8]),
                                           helper.make_tensor_value_info("lengths", TensorProto.INT32, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.crossrank", 1)])


@EACH
@pytest.mark.parametrize("bf16_passes", [True, False])
def test_a_rung_failing_with_bf16_attention_is_measured_again_with_fp32_attention(tiny_bundle, tmp_path, monkeypatch,
                                                                                 rung, bf16_passes):
    import onnx

    from crossrank.export import kernel_rungs
    from crossrank.export.gate import GateThresholds

    _runs(rung)
    folder = tmp_path / "b"
    shutil.copytree(tiny_bundle, folder)
    onnx.save(_attention_graph(), str(folder / "model.engine.onnx"))
    manifest = read_manifest(folder)
    measured = []

    def agreement(folder, path, sets, thresholds, gate_sets, *, precision):
        core = next(n for n in onnx.load(str(path)).graph.node if n.op_type == "SelfAttention")
        bf16 = any(a.name == "bf16" and a.i == 1 for a in core.attribute)
        measured.append(bf16)
        passed = bf16_passes or not bf16  # fp32 attention passes
        return {"metrics": {"builtin": {"top10_overlap": 0.96 if passed else 0.9, "kendall_tau": 0.95}},
                "passed": passed}

    monkeypatch.setattr(kernel_rungs, "rung_agreement", agreement)
    step = next(k for k in kernel_rungs.KERNEL_RUNGS if k.precision == rung.precision)
    entry = kernel_rungs.kernel_rung_step(step, folder, manifest, {"gated_on": ["builtin"]}, [], GateThresholds(),
                                          say=lambda _: None)
    assert entry["passed"] and measured == ([True] if bf16_passes else [True, False])
    assert entry["attention_products"] == ("bf16" if bf16_passes else "fp32")
    assert entry["ops"]["bf16_attention"] == int(bf16_passes)
    assert ("bf16_attention_try" in entry) is not bf16_passes  # the failed try's agreement, kept
    core = next(n for n in onnx.load(str(folder / entry["file"])).graph.node if n.op_type == "SelfAttention")
    assert any(a.name == "bf16" for a in core.attribute) is bf16_passes
