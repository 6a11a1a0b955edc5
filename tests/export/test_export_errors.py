"""Export errors a user can fix (each names the culprit) and the ``crossrank export`` command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from fixture_helpers import REPO
from export_cases import PAIRS, read_manifest as _manifest

pytest.importorskip("onnx")


# ------------------------------------------------------------------------------- errors


def test_missing_folder(export_module, tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        export_module.export_bundle(tmp_path / "no-such-model", tmp_path / "out", progress=False)
    with pytest.raises(FileNotFoundError, match="config.json"):
        export_module.export_bundle(tmp_path, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_folder_without_any_tokenizer(export_module, tiny_model_dir, tmp_path):
    src = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_model_dir, src)
    for name in ("tokenizer.json", "vocab.txt", "special_tokens_map.json"):
        (src / name).unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        export_module.export_bundle(src, tmp_path / "out", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no-tokenizer"]  # nothing half-written


def test_folder_with_only_vocab_txt_gets_a_tokenizer_json(export_module, tiny_model_dir, tiny_bundle,
                                                          tmp_path, capsys):
    src = tmp_path / "vocab-only"
    shutil.copytree(tiny_model_dir, src)
    (src / "tokenizer.json").unlink()
    out = export_module.export_bundle(src, tmp_path / "bundle", max_length=2048)
    err = capsys.readouterr().err
    for step in ("[1/11] ONNX export (optimum) … ", "[2/11] transformer fusions", "[3/11] dynamic int8",
                 "[4/11] check against PyTorch", "[5/11] fidelity report", "[6/11] quality gate",
                 "[7/11] static int8", "[8/11] engine graphs", "[9/11] int8_token rung", "[10/11] bf16 rung",
                 "[11/11] precision rungs", "quality gate: ",
                 "rung int8_static", "default precision: "):
        assert step in err, err
    m = _manifest(out)
    assert m["max_length"] == 512  # capped by max_position_embeddings
    assert m["tokenizer"]["origin"].startswith("built")
    from tokenizers import Tokenizer

    built = Tokenizer.from_file(str(out / "tokenizer.json"))
    copied = Tokenizer.from_file(str(tiny_bundle / "tokenizer.json"))
    for q, d in PAIRS:
        assert built.encode(q, d).ids == copied.encode(q, d).ids


def test_encoder_without_classification_head_is_refused(export_module, minilm_model_dir, tmp_path):
    # all-MiniLM-L6-v2 itself is a BertModel (a sentence embedder), not a cross-encoder.
    with pytest.raises(ValueError, match="not a sequence-classification model"):
        export_module.export_bundle(minilm_model_dir, tmp_path / "out", progress=False)


def test_gpt2_is_refused(export_module, tmp_path):
    pytest.importorskip("transformers")
    from transformers import GPT2Config

    src = tmp_path / "gpt2"
    cfg = GPT2Config(n_layer=1, n_embd=16, n_head=2)
    cfg.architectures = ["GPT2LMHeadModel"]
    cfg.save_pretrained(src)
    with pytest.raises(ValueError, match=r"model type 'gpt2' \(architecture GPT2LMHeadModel\) is a decoder reranker"):
        export_module.export_bundle(src, tmp_path / "out", progress=False)


def test_config_without_architecture_or_labels_is_refused(export_module, tiny_model_dir, tmp_path):
    src = tmp_path / "anon"
    shutil.copytree(tiny_model_dir, src)
    cfg = json.loads((src / "config.json").read_text())
    for key in ("architectures", "id2label", "label2id", "num_labels"):
        cfg.pop(key, None)
    (src / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="no architecture and no labels"):
        export_module.export_bundle(src, tmp_path / "out", progress=False)


def test_non_bundle_output_folder_is_not_overwritten(export_module, tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        export_module.export_bundle(tiny_model_dir, out, progress=False)
    assert (out / "precious.txt").read_text() == "keep me"


def test_labels_decide_score_index_and_activation(export_module):
    from types import SimpleNamespace as NS

    f = export_module._score_and_activation
    assert f(NS(num_labels=1, id2label={0: "x"}), {}, None, None)[:2] == (0, "sigmoid")
    assert f(NS(num_labels=2, id2label={0: "no", 1: "yes"}), {}, None, None)[:2] == (1, "softmax")
    st = {"sentence_transformers": {"activation_fn": "torch.nn.modules.linear.Identity"}}
    assert f(NS(num_labels=1, id2label={0: "x"}), st, None, None)[:2] == (0, "none")
    assert f(NS(num_labels=1, id2label={}), {}, "none", None)[:2] == (0, "none")
    three = NS(num_labels=3, id2label={0: "contradiction", 1: "entailment", 2: "neutral"})
    assert f(three, {}, None, None)[:2] == (1, "softmax")
    with pytest.raises(ValueError):
        f(NS(num_labels=1, id2label={}), {}, "relu", None)
    with pytest.raises(ValueError):
        f(NS(num_labels=1, id2label={}), {}, None, 1)


def test_max_length_is_capped_by_positions(export_module):
    from types import SimpleNamespace as NS

    f = export_module._effective_max_length
    assert f(NS(model_type="bert", max_position_embeddings=512), 4096) == 512
    assert f(NS(model_type="bert", max_position_embeddings=512), 256) == 256
    assert f(NS(model_type="roberta", max_position_embeddings=514, pad_token_id=1), 4096) == 512
    with pytest.raises(ValueError):
        f(NS(model_type="bert", max_position_embeddings=512), 2)


# ------------------------------------------------------------------------------- command line


def _script(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    # The installed package, not the checkout: only the installed one carries the native module.
    full_env = dict(os.environ, **env)
    return subprocess.run([sys.executable, str(REPO / "scripts" / "export_model.py"), *args],
                          env=full_env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_cli_exports_a_bundle(tiny_model_dir, tmp_path, capsys):
    from crossrank.cli import main

    assert main(["export", str(tiny_model_dir), "--out", str(tmp_path / "b"), "--max-length", "64"]) == 0
    out, err = capsys.readouterr()
    assert "[1/11] ONNX export (optimum)" in err and "wrote" in out and "fused: Attention" in out
    assert "top10" in err and "int8 per-channel" in err  # the fidelity table
    assert "quality gate: " in out and "default precision: " in out and "precision rungs" in out
    assert _manifest(tmp_path / "b")["max_length"] == 64


def test_cli_reports_errors_without_a_traceback(tmp_path):
    r = _script(str(tmp_path / "missing"), "--out", str(tmp_path / "b"))
    assert r.returncode == 2 and "error: model folder not found" in r.stderr
    assert "Traceback" not in r.stderr
    # A Hub id goes through transformers; offline it fails with a clear message.
    r = _script("some-org/some-cross-encoder", "--out", str(tmp_path / "b"), HF_HUB_OFFLINE="1")
    assert r.returncode == 2 and "Hugging Face Hub" in r.stderr, r.stderr

