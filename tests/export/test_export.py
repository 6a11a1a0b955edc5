"""Bundles: layout, manifest, fidelity of the fused fp32 graph, the int8 graph, the default model.
Graphs run through onnxruntime's Python API here (independent of the engine). Errors and the
command line: test_export_errors.py."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import REPO
from export_cases import PAIRS, read_manifest as _manifest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _hf_encode(source_dir: Path, pairs, max_length: int) -> dict[str, np.ndarray]:
    """Tokenizes with transformers' own tokenizer for the source model (not the bundle's file)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source_dir)
    enc = tok([q for q, _ in pairs], [d for _, d in pairs], truncation="longest_first",
              max_length=max_length, padding=True, return_tensors="np")
    return {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}


@functools.lru_cache(maxsize=8)
def _session(path: Path, mtime_ns: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _ort_logits(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    sess = _session(path, path.stat().st_mtime_ns)
    names = {i.name for i in sess.get_inputs()}
    return sess.run(["logits"], {k: v for k, v in feeds.items() if k in names})[0]


def _torch_logits(model, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).logits.float().numpy()


def _op_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def _source_dir(bundle: Path, default_model_module, minilm_model_dir) -> Path:
    src = _manifest(bundle)["source"]["model"]
    return minilm_model_dir if src == default_model_module.DEFAULT_SOURCE_NAME else Path(src)


@pytest.fixture(params=["tiny", "minilm", "weak"])
def any_bundle(request) -> Path:
    return request.getfixturevalue(f"{request.param}_bundle")


# ------------------------------------------------------------------------------- layout


def test_bundle_layout_and_manifest(any_bundle):
    files = sorted(p.name for p in any_bundle.iterdir())
    m = _manifest(any_bundle)
    # a default model cached by an older crossrank may predate the fidelity report
    expected = ["crossrank.json", "model.int8.onnx", "model.onnx", "tokenizer.json"]
    if "fidelity" in m:
        expected.append("report.json")
    if "int8_static" in m["files"]:  # made with the fidelity pools (older default bundles lack it)
        expected.append("model.int8_static.onnx")
    kernel_rungs = {r: f"model.{r}.engine.onnx" for r in ("int8_token", "bf16") if r in m["files"]}
    expected += kernel_rungs.values()  # made on CPUs with their instructions (test_kernel_rungs.py)
    expected += list(m.get("engine_files", {}).values())  # checked in test_attention.py
    assert files == sorted(expected)
    assert m["format_version"] == 1
    static = {"int8_static": "model.int8_static.onnx"} if "int8_static" in m["files"] else {}
    assert m["files"] == {"fp32": "model.onnx", "int8": "model.int8.onnx", "tokenizer": "tokenizer.json", **static,
                          **kernel_rungs}
    # the quality gate decides: the fastest rung that passed (gate off: int8, report only)
    gate = (m.get("fidelity") or {}).get("gate") or {"decision": "off"}
    if gate["decision"] == "off":
        assert m["default_precision"] == "int8"
    else:
        assert m["default_precision"] == m["precision_rungs_chosen"]
    assert m["num_labels"] == 1 and m["score_index"] == 0 and m["activation"] == "sigmoid"
    assert m["max_length"] == 512
    assert m["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    src = m["source"]
    assert src["architecture"] == "BertForSequenceClassification" and src["model_type"] == "bert"
    assert isinstance(src["opset"], int) and src["opset"] >= 14
    assert src["exported_at"].endswith("+00:00")
    for dist in ("torch", "transformers", "optimum", "onnxruntime"):
        assert src["versions"][dist], dist
    q = m["quantization"]
    assert q["method"] == "dynamic" and q["per_channel"] is True
    assert q["weight_type"] == "int8" and q["activation_type"] == "uint8"
    assert isinstance(q["reduce_range"], bool)
    assert q["reduce_range"] is (q["built_on_cpu_with_vnni"] is False)
    opt = m["optimization"]
    assert "Attention" in opt["applied"] and "SkipLayerNormalization" not in opt["applied"]
    assert opt["options"]["enable_skip_layer_norm"] is False  # slower than Add + LayerNorm on CPU
    assert opt["fused_operators"]["Attention"] == opt["fused_operators"]["Gelu"] > 0
    assert opt["options"]["enable_bias_gelu"] is False  # the bias goes into the int8 MatMul instead
    assert "BiasGelu" not in opt["graph_ops"]
    assert opt["options"]["enable_embed_layer_norm"] is False
    assert m["verification"]["fp32_max_abs_diff"] < 1e-4
    assert isinstance(m["notes"], list) and all(isinstance(n, str) for n in m["notes"])
    for name, digest in m["checksums_sha256"].items():
        assert (any_bundle / name).is_file() and len(digest) == 64
    # The manifest is what the Python layer's loader reads.
    try:
        from crossrank.bundle import Bundle
    except ImportError:
        return
    b = Bundle.load(any_bundle)
    assert b.max_length == 512 and b.activation == "sigmoid" and b.default_precision == m["default_precision"]


def test_default_model_manifest_says_scores_carry_no_relevance(minilm_bundle, default_model_module):
    m = _manifest(minilm_bundle)
    assert m["source"]["model"] == default_model_module.DEFAULT_SOURCE_NAME
    assert any("untrained" in n and "no relevance" in n for n in m["notes"])
    assert m["optimization"]["fused_operators"]["Attention"] == 6
    assert m["optimization"]["fused_operators"]["Gelu"] == 6


def test_graph_signature_is_int64_with_dynamic_batch_and_sequence(tiny_bundle):
    for name in ("model.onnx", "model.int8.onnx"):
        g = onnx.load(str(tiny_bundle / name), load_external_data=False).graph
        inputs = {i.name: i for i in g.input}
        assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
        for i in inputs.values():
            t = i.type.tensor_type
            assert t.elem_type == onnx.TensorProto.INT64
            dims = [d.dim_param or d.dim_value for d in t.shape.dim]
            assert len(dims) == 2 and all(isinstance(d, str) and d for d in dims), dims
        (out,) = g.output
        assert out.name == "logits"
        dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
        assert isinstance(dims[0], str) and dims[1] == 1


def test_tokenizer_json_is_the_models_with_truncation_and_padding_cleared(
        any_bundle, default_model_module, minilm_model_dir):
    from tokenizers import Tokenizer

    data = json.loads((any_bundle / "tokenizer.json").read_text(encoding="utf-8"))
    assert data["truncation"] is None and data["padding"] is None
    cleared = _manifest(any_bundle)["tokenizer"]["cleared"]
    assert cleared["truncation"]["max_length"] == 128  # what both MiniLM tokenizer files carried
    # Without truncation, the bundle's tokenizer encodes as transformers does for the source.
    source = _source_dir(any_bundle, default_model_module, minilm_model_dir)
    ref = _hf_encode(source, PAIRS, 512)
    tok = Tokenizer.from_file(str(any_bundle / "tokenizer.json"))
    for i, (q, d) in enumerate(PAIRS[:-1]):  # all but the overlong one fit in 512 tokens
        enc = tok.encode(q, d)
        n = int(ref["attention_mask"][i].sum())
        assert enc.ids == ref["input_ids"][i, :n].tolist()
        assert enc.type_ids == ref["token_type_ids"][i, :n].tolist()
    assert len(tok.encode(*PAIRS[-1]).ids) > 512  # no truncation left in the file


# ------------------------------------------------------------------------------- fidelity


def test_fp32_graph_matches_pytorch(any_bundle, torch_reference, default_model_module, minilm_model_dir):
    model = torch_reference(any_bundle)
    source = _source_dir(any_bundle, default_model_module, minilm_model_dir)
    # A padded batch; the overlong pair alone at the full 512 positions; everything truncated to 64.
    for pairs, max_length in ((PAIRS[:-1], 512), (PAIRS[-1:], 512), (PAIRS, 64)):
        feeds = _hf_encode(source, pairs, max_length)
        ours = _ort_logits(any_bundle / "model.onnx", feeds)
        ref = _torch_logits(model, feeds)
        assert ours.shape == ref.shape == (len(pairs), 1)
        np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)
    # One pair at a time (no padding) gives the same as inside a padded batch.
    single = np.concatenate([_ort_logits(any_bundle / "model.onnx", _hf_encode(source, [p], 512))
                             for p in PAIRS[:4]])
    np.testing.assert_allclose(single, _ort_logits(any_bundle / "model.onnx",
                                                   _hf_encode(source, PAIRS[:-1], 512))[:4], atol=1e-4)


def test_fp32_graph_is_fused_and_stays_fp32(any_bundle):
    ops = _op_counts(any_bundle / "model.onnx")
    assert ops.get("Attention", 0) > 0 and ops.get("LayerNormalization", 0) > 0
    assert ops.get("Gelu", 0) > 0 and "BiasGelu" not in ops
    assert "EmbedLayerNormalization" not in ops  # kept out: it gets in the way of quantization
    assert not {"MatMulInteger", "QAttention", "DynamicQuantizeLinear", "Softmax"} & set(ops)
    g = onnx.load(str(any_bundle / "model.onnx"), load_external_data=False).graph
    float_types = {init.data_type for init in g.initializer if init.data_type != onnx.TensorProto.INT64}
    assert float_types <= {onnx.TensorProto.FLOAT}


def test_int8_graph_is_quantized(any_bundle):
    ops = _op_counts(any_bundle / "model.int8.onnx")
    q = _manifest(any_bundle)["quantization"]
    kept = set(q.get("excluded_nodes", []))  # operators the quality gate kept in fp32, if any
    fp32_ops = _op_counts(any_bundle / "model.onnx")
    assert ops.get("QAttention", 0) + ops.get("Attention", 0) == fp32_ops["Attention"]
    assert ops.get("MatMulInteger", 0) > 0 and ops.get("DynamicQuantizeLinear", 0) > 0
    if not kept:
        assert "MatMul" not in ops and "Attention" not in ops  # every weight product is integer
    else:
        g = onnx.load(str(any_bundle / "model.int8.onnx"), load_external_data=False).graph
        left = {n.name for n in g.node if n.op_type in ("MatMul", "Attention", "Gemm")}
        assert left <= kept
    if any_bundle.name != "tiny" and not kept:  # the tiny model's weights are mostly its embeddings
        assert (any_bundle / "model.int8.onnx").stat().st_size < 0.35 * (any_bundle / "model.onnx").stat().st_size
    assert q["quantized_ops"].get("QAttention", 0) == ops.get("QAttention", 0)


def _topic_pairs() -> list[tuple[str, str]]:
    """Queries against short and long passages of Python's own docs (offline prose)."""
    from pydoc_data.topics import topics

    queries = ["how does the with statement manage context", "what happens when an exception is raised",
               "how are default argument values evaluated", "what does yield return in a generator",
               "how does python resolve names in nested scopes", "how do comparisons of numbers work",
               "how to format a string", "what is a lambda expression"]
    docs = []
    for i, key in enumerate(sorted(topics)[::6]):
        words = topics[key].split()
        docs.append(" ".join(words[: (20, 40, 70)[i % 3]]))
    return [(q, d) for q in queries for d in docs[:8]]


def test_int8_scores_rank_like_fp32_on_the_trained_head(weak_bundle, weak_model_dir):
    pairs = _topic_pairs()
    feeds = _hf_encode(weak_model_dir, pairs, 512)
    fp32 = _ort_logits(weak_bundle / "model.onnx", feeds)[:, 0]
    int8 = _ort_logits(weak_bundle / "model.int8.onnx", feeds)[:, 0]
    assert fp32.std() > 0.05  # the weak head does spread scores
    rho = _spearman(fp32, int8)
    print(f"weak model, {len(pairs)} pairs: Spearman int8 vs fp32 {rho:.4f}, "
          f"max |diff| {np.max(np.abs(fp32 - int8)):.4f}, fp32 std {fp32.std():.4f}")
    assert rho > 0.9, rho
    assert np.max(np.abs(fp32 - int8)) < 0.5


def test_int8_scores_stay_close_on_the_default_model(minilm_bundle):
    pairs = _topic_pairs()[::2]
    feeds = _hf_encode(_manifest_source_minilm(), pairs, 512)
    fp32 = _ort_logits(minilm_bundle / "model.onnx", feeds)[:, 0]
    int8 = _ort_logits(minilm_bundle / "model.int8.onnx", feeds)[:, 0]
    assert np.max(np.abs(fp32 - int8)) < 0.1


def _manifest_source_minilm() -> Path:
    from crossrank.default_model import minilm_encoder_dir

    return minilm_encoder_dir()


# ------------------------------------------------------------------------------- default model


def test_seeded_head_is_identical_across_builds(default_model_module, minilm_bundle):
    import torch
    from onnx import numpy_helper

    a, b = default_model_module.seeded_model(), default_model_module.seeded_model()
    for name in ("weight", "bias"):
        assert torch.equal(getattr(a.classifier, name), getattr(b.classifier, name))
    w = a.classifier.weight.detach().numpy()
    assert 0.01 < float(w.std()) < 0.03 and float(np.abs(a.classifier.bias.detach().numpy()).max()) == 0.0
    # The bundle carries exactly that head.
    g = onnx.load(str(minilm_bundle / "model.onnx")).graph
    heads = [numpy_helper.to_array(t) for t in g.initializer if tuple(t.dims) in ((384, 1), (1, 384))]
    assert any(np.array_equal(h.reshape(-1), w.reshape(-1)) for h in heads)


def test_default_model_builds_once_atomically_and_identically(default_model_module, minilm_bundle,
                                                               tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSRANK_HOME", str(tmp_path / "home"))
    target = default_model_module.default_model_dir()
    assert target == tmp_path / "home" / "models" / "minilm-l6-seeded"
    built = default_model_module.default_model(progress=False)
    assert built == target and (target / "crossrank.json").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["minilm-l6-seeded"]  # no temp left
    ours, ref = _manifest(built), _manifest(minilm_bundle)
    if ours["source"]["versions"] == ref["source"]["versions"]:
        # byte-identical graphs (a cached default bundle may predate a file, e.g. model.int8_static.onnx)
        common = ours["checksums_sha256"].keys() & ref["checksums_sha256"].keys()
        assert {"model.onnx", "model.int8.onnx", "tokenizer.json"} <= common
        assert all(ours["checksums_sha256"][k] == ref["checksums_sha256"][k] for k in common)
    feeds = _hf_encode(_manifest_source_minilm(), PAIRS[:6], 512)
    np.testing.assert_array_equal(_ort_logits(built / "model.onnx", feeds),
                                  _ort_logits(minilm_bundle / "model.onnx", feeds))

    # Cached: a second call does not build.
    def boom(*a, **k):
        raise AssertionError("rebuilt a cached bundle")

    monkeypatch.setattr(default_model_module, "build_default_bundle", boom)
    assert default_model_module.default_model() == target
    with pytest.raises(AssertionError):
        default_model_module.default_model(rebuild=True)
    # One cached by an older crossrank (no engine graphs) would run slower: it is rebuilt.
    manifest = _manifest(target)
    del manifest["engine_files"]
    (target / "crossrank.json").write_text(json.dumps(manifest))
    with pytest.raises(AssertionError, match="rebuilt a cached bundle"):
        default_model_module.default_model(progress=False)


def test_default_model_refuses_a_foreign_folder(default_model_module, tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSRANK_HOME", str(tmp_path))
    target = default_model_module.default_model_dir()
    target.mkdir(parents=True)
    (target / "something.txt").write_text("not a bundle")
    pytest.importorskip("torch")
    with pytest.raises(FileExistsError, match="no crossrank bundle"):
        default_model_module.default_model()


def test_default_model_without_torch_says_how_to_install(default_model_module, tmp_path):
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name.split('.')[0] == 'torch': raise ImportError('No module named torch')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "import importlib\n"
        "dm = importlib.import_module('crossrank.default_model')\n"
        "try:\n"
        "    dm.default_model()\n"
        "except ImportError as e:\n"
        "    print('ERR', e)\n"
    )
    env = dict(os.environ, CROSSRANK_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=False, cwd=str(REPO / "tests"))
    assert "ERR" in out.stdout, out.stderr
    assert "pip install 'crossrank[export]'" in out.stdout and "torch==2.13.0" in out.stdout


def test_importing_the_export_modules_does_not_import_torch():
    code = (
        "import sys\n"
        "import crossrank.export, crossrank.default_model\n"
        "bad = sorted(m for m in ('torch', 'transformers', 'optimum') if m in sys.modules)\n"
        "print('LOADED', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
