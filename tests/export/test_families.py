"""Export of the XLM-RoBERTa, ModernBERT and ELECTRA families (tiny random models, family_models.py):
fp32 against PyTorch, int8 against fp32, the manifest's family, the engine graphs and why parts of a
graph stay off crossrank's kernels, and the error for decoder rerankers. Graphs run through
onnxruntime's Python API here, fed ids from Hugging Face's tokenizer; the engine end to end:
test_family_engine.py."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fixture_helpers import REPO
from export_cases import PAIRS, read_manifest
from family_bundles import FAMILY_MODELS, family_bundle, family_source

from crossrank.bundle import Bundle
from crossrank.export.families import FAMILIES, family_of
from crossrank.export.fidelity import make_scorer
from crossrank.export.onnx_scorer import OnnxRuntimeScorer, unsupported_tokenizer
from crossrank.export.pipeline import export_bundle

ort = pytest.importorskip("onnxruntime")

FAMILY_NAMES = sorted(FAMILY_MODELS)


def _hf_feeds(source, pairs, max_length: int) -> dict[str, np.ndarray]:
    """Ids from transformers' own tokenizer of the source folder, padded, longest_first."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source)
    enc = tok([q for q, _ in pairs], [d for _, d in pairs], truncation="longest_first", max_length=max_length,
              padding=True, return_tensors="np", return_token_type_ids=True)
    return {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}


def _ort_logits(path, feeds) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(["logits"], {k: v for k, v in feeds.items() if k in names})[0]


def _torch_logits(source, feeds) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(source).float().eval()
    accepted = set(model.forward.__code__.co_varnames)
    with torch.inference_mode():
        return model(**{k: torch.from_numpy(v) for k, v in feeds.items() if k in accepted}).logits.numpy()


@pytest.fixture(scope="module", params=FAMILY_NAMES)
def exported(request, tmp_path_factory):
    """(family, source folder, bundle folder) of each family's tiny model."""
    name = FAMILY_MODELS[request.param]
    return request.param, family_source(name, tmp_path_factory), family_bundle(name, tmp_path_factory)


def test_fp32_graph_matches_pytorch(exported):
    family, source, bundle = exported
    max_length = read_manifest(bundle)["max_length"]
    feeds = _hf_feeds(source, PAIRS, max_length)
    reference = _torch_logits(source, feeds)
    assert float(np.ptp(reference)) > 0.5  # the tiny model's scores spread (family_models.TINY)
    fp32 = _ort_logits(bundle / "model.onnx", feeds)
    assert np.abs(fp32 - reference).max() < 1e-4, family
    assert read_manifest(bundle)["verification"]["fp32_max_abs_diff"] < 1e-4


def test_int8_graph_is_sane(exported):
    family, source, bundle = exported
    feeds = _hf_feeds(source, PAIRS, read_manifest(bundle)["max_length"])
    fp32 = _ort_logits(bundle / "model.onnx", feeds)[:, 0]
    int8 = _ort_logits(bundle / "model.int8.onnx", feeds)[:, 0]
    assert np.abs(int8 - fp32).max() < 0.2 * np.ptp(fp32), family
    report = json.loads((bundle / "report.json").read_text(encoding="utf-8"))
    builtin = report["variants"][0]["metrics"]["builtin"]
    assert builtin["kendall_tau"] > 0.8 and builtin["top10_overlap"] >= 0.9, (family, builtin)


def test_manifest_records_the_family_and_its_inputs(exported):
    family, _, bundle = exported
    manifest = read_manifest(bundle)
    assert manifest["family"] == family and Bundle.load(bundle).family == family
    assert manifest["source"]["model_type"] in family_of(manifest["source"]["model_type"]).model_types
    # XLM-R (one token type) and ModernBERT graphs take no token_type_ids; the engine feeds what a graph takes.
    assert ("token_type_ids" in manifest["inputs"]) == (family == "electra"), manifest["inputs"]
    assert manifest["max_length"] == (128 if family == "xlm-roberta" else 512)  # 130 positions less the offset of 2


def test_fidelity_report_names_its_scorer(exported):
    family, _, bundle = exported
    report = json.loads((bundle / "report.json").read_text(encoding="utf-8"))
    expected = "crossrank engine" if family == "electra" or _engine_reads(bundle) else "onnxruntime Python API"
    assert report["engine"].startswith(expected), report["engine"]


def _engine_reads(bundle) -> bool:
    return unsupported_tokenizer(bundle / "tokenizer.json") is None


def test_kernels_serve_bert_shaped_families(exported):
    family, _, bundle = exported
    if family == "modernbert":
        pytest.skip("ModernBERT's attention is no fused node: test_modernbert_says_why")
    graphs = read_manifest(bundle)["engine_graphs"]
    for precision, entry in graphs.items():
        # head width 32: the attention kernel; 2 layers: 2 attentions, 2 GELUs (+1 in ELECTRA's head),
        # 4 residual Add + LayerNorms (the embeddings' LayerNorm is no residual sum)
        assert entry["crossrank_ops"]["SelfAttention"] == 2 and entry["crossrank_ops"]["AddLayerNorm"] == 4
        misfits = dict(entry["not_on_kernels"])
        tail = misfits.pop("first_token_tail", None)
        assert misfits == {"AddLayerNorm": "1 of 5 LayerNormalization nodes stay: its input is "
                                           "no residual sum (e.g. the embeddings' sum)"}
        # Each head reads the first token: the last layer narrows to it, but for dynamic int8, whose
        # activation scales span every row (crossrank/export/first_token_tail.py)
        assert entry["crossrank_ops"]["first_token_tail"] == int(precision != "int8"), (precision, tail)
        if _engine_reads(bundle):
            assert entry["file"] and (bundle / entry["file"]).is_file(), (precision, entry)
        else:
            assert entry["file"] is None and "does not read this bundle's tokenizer" in entry["skipped"]


def test_modernbert_says_why(tmp_path_factory):
    bundle = family_bundle("tiny-modernbert", tmp_path_factory)
    for entry in read_manifest(bundle)["engine_graphs"].values():
        assert entry["crossrank_ops"]["SelfAttention"] == 0 and entry["crossrank_ops"]["Gelu"] > 0
        assert entry["not_on_kernels"]["SelfAttention"].startswith("the graph has no fused (Q)Attention node")
        assert "pre-norm residual" in entry["not_on_kernels"]["AddLayerNorm"]
        assert entry["family_note"] == family_of("modernbert").kernel_note


def test_head_width_the_kernel_does_not_take_is_named(tmp_path_factory):
    bundle = family_bundle("tiny-xlm-roberta-h16", tmp_path_factory)
    for entry in read_manifest(bundle)["engine_graphs"].values():
        assert entry["crossrank_ops"]["SelfAttention"] == 0
        assert entry["not_on_kernels"]["SelfAttention"] == (
            "2 of 2 attention nodes stay on ONNX Runtime: head width 16 (the AVX-512 kernel takes 32 and 64)")


DECODER_ERROR = (
    "model type 'qwen3' (architecture Qwen3ForCausalLM) is a decoder reranker (such as Qwen3-Reranker or "
    "bge-reranker-v2-gemma), which scores with a language model's token logits; crossrank exports encoder "
    "cross-encoders only: bert (cross-encoder/ms-marco-MiniLM-L-6-v2), xlm-roberta (BAAI/bge-reranker-base), "
    "electra (cross-encoder/ms-marco-electra-base), modernbert (Alibaba-NLP/gte-reranker-modernbert-base)")


@pytest.mark.parametrize("architecture", ["Qwen3ForCausalLM", "Qwen3ForSequenceClassification"])
def test_decoder_rerankers_are_refused_by_name(tmp_path, architecture):
    """Qwen3-Reranker (a causal LM) and its sequence-classification conversions: the README's error."""
    pytest.importorskip("transformers")
    from transformers import Qwen3Config

    config = Qwen3Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         intermediate_size=32, vocab_size=100, head_dim=8)
    config.architectures = [architecture]
    config.save_pretrained(tmp_path / "qwen3")
    with pytest.raises(ValueError) as caught:
        export_bundle(tmp_path / "qwen3", tmp_path / "out", progress=False)
    assert str(caught.value) == f"{tmp_path / 'qwen3'}: " + DECODER_ERROR.replace("Qwen3ForCausalLM", architecture)
    assert not (tmp_path / "out").exists()


def test_readme_lists_every_family_and_the_decoder_error():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Model families"):readme.index("Not supported yet, and what you get")]
    for family in FAMILIES:
        assert f"| {family.name} |" in table or f" {family.name} |" in table, family.name
    assert f"`ValueError: MODEL: {DECODER_ERROR}`" in readme


def test_models_with_their_own_code_are_refused(tmp_path_factory, tmp_path):
    """jina-reranker-v2 style: config.json's auto_map points to modeling code in the model folder."""
    source = tmp_path / "custom"
    shutil.copytree(family_source("tiny-xlm-roberta", tmp_path_factory), source)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_xlm_roberta.XLMRobertaForSequenceClassification"}
    (source / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match=r"auto_map names its own modeling code \(modeling_xlm_roberta\."):
        export_bundle(source, tmp_path / "out", progress=False)


def test_engine_less_scorer_matches_the_engine(tmp_path_factory):
    """The fidelity report's scorer for tokenizers the engine does not read (onnxruntime + tokenizers),
    checked against the engine on a bundle both read: same logits in fp32, same int8 noise."""
    bundle = family_bundle("tiny-electra", tmp_path_factory)
    manifest = read_manifest(bundle)
    pairs = PAIRS[:-1]
    for precision, name in (("fp32", "model.onnx"), ("int8", "model.int8.onnx")):
        ours = OnnxRuntimeScorer(bundle / name, bundle / "tokenizer.json", max_length=manifest["max_length"],
                                 score_index=0, softmax=False)(pairs)
        engine = make_scorer(bundle, bundle / name, precision=precision)(pairs)
        assert np.abs(ours - engine).max() < (1e-4 if precision == "fp32" else 1e-3), precision
