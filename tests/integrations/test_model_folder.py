"""What crossrank.CrossEncoder loads: a Hugging Face folder exported once (cached by content, with a
progress line, the gate's precision), a bundle as it is; errors that name the argument; and no
torch for the caller who asks for none of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from integration_cases import PAIRS
from fixture_helpers import REPO, _need_export_extra, make_tiny_model_dir

from crossrank.bundle import read_manifest
from crossrank.integrations import model_folder
from crossrank.integrations.sentence_transformers import CrossEncoder

pytest_plugins = ["integration_fixtures"]  # its fixtures: crossrank_home, hf_folder, models


@pytest.fixture(scope="module")
def folder(tmp_path_factory, minilm_model_dir):
    _need_export_extra()
    return make_tiny_model_dir(tmp_path_factory.mktemp("hf") / "tiny", minilm_model_dir)


def _no_export(*args, **kwargs):
    raise AssertionError("exported again")


def test_a_folder_is_exported_once_with_a_progress_line(folder, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("CROSSRANK_HOME", str(tmp_path / "home"))
    first = CrossEncoder(folder, progress=True)
    err = capfd.readouterr().err
    assert f"exporting the Hugging Face folder {folder}" in err and "[1/" in err  # the line, then the steps
    bundle = first.reranker.bundle.path
    assert bundle.parent == tmp_path / "home" / "exports" and len(bundle.name) == model_folder.KEY_CHARS
    # the gate's decision is the default precision (this random model's int8 fails it: fp32)
    assert first.reranker.precision == read_manifest(bundle)["default_precision"]

    monkeypatch.setattr(model_folder, "export_bundle", _no_export)
    again = CrossEncoder(folder)
    copy = shutil.copytree(folder, tmp_path / "elsewhere" / "renamed")
    moved = CrossEncoder(copy)  # same files elsewhere, under another name: same key
    assert again.reranker.bundle.path == moved.reranker.bundle.path == bundle
    assert "exporting" not in capfd.readouterr().err
    np.testing.assert_array_equal(moved.predict(PAIRS[:4]), first.predict(PAIRS[:4]))

    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "classifier_dropout": 0.2}))
    with pytest.raises(AssertionError, match="exported again"):  # new content: a new export
        CrossEncoder(copy)


def test_the_key_reads_the_top_level_files_not_dot_files_or_subfolders(folder, tmp_path):
    copy = shutil.copytree(folder, tmp_path / "tiny")
    key = model_folder.content_key(copy)
    (copy / ".lock").write_text("x")
    (copy / "onnx").mkdir()
    (copy / "onnx" / "model.onnx").write_text("x")
    assert model_folder.content_key(copy) == key
    (copy / "README.md").write_text("changed")
    assert model_folder.content_key(copy) != key


def test_the_tokenizers_model_max_length_is_the_default_as_in_sentence_transformers(folder, tmp_path,
                                                                                     crossrank_home):
    st = pytest.importorskip("sentence_transformers")
    copy = shutil.copytree(folder, tmp_path / "short")
    tokenizer_config = json.loads((copy / "tokenizer_config.json").read_text())
    (copy / "tokenizer_config.json").write_text(json.dumps({**tokenizer_config, "model_max_length": 32}))
    ours = CrossEncoder(copy, precision="fp32", progress=False)
    assert ours.max_length == 32
    with pytest.warns(UserWarning, match="truncated"):
        got = ours.predict(PAIRS)
    np.testing.assert_allclose(got, st.CrossEncoder(str(copy), device="cpu").predict(PAIRS), atol=1e-4, rtol=0)
    assert CrossEncoder(copy, max_length=64, progress=False).max_length == 64


def test_a_bundle_loads_as_it_is_and_positional_arguments_keep_their_old_order(folder, crossrank_home):
    bundle = CrossEncoder(folder, progress=False).reranker.bundle.path
    model = CrossEncoder(str(bundle), 1, 128)  # num_labels, max_length (sentence-transformers < 5.4)
    assert model.model_folder.source is None and model.num_labels == 1 and model.max_length == 128
    assert CrossEncoder(bundle, default_activation_function="none").activation_fn.name == "none"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_labels": 3}, ValueError, "num_labels=3, but the model has 1 label"),
    ({"device": "cuda"}, ValueError, "device must be None or 'cpu'"),
    ({"backend": "openvino"}, ValueError, "backend must be one of"),
    ({"model_kwargs": {"torch_dtype": "auto"}}, ValueError, "model_kwargs is not supported"),
    ({"prompts": {"query": "q: "}}, ValueError, "prompts is not supported"),
    ({"max_length": 0}, ValueError, "max_length must be"),
    ({"max_length": 100_000}, ValueError, "max_length must be"),
    ({"activation_fn": "gelu"}, ValueError, "activation_fn must be a callable"),
    ({"precision": "int4"}, ValueError, "precision must be one of"),
    ({"colour": "blue"}, TypeError, "unexpected arguments: colour"),
])
def test_constructor_errors_name_the_argument(folder, crossrank_home, kwargs, error, match):
    with pytest.raises(error, match=match):
        CrossEncoder(folder, progress=False, **kwargs)


def test_paths_that_are_neither_bundle_nor_model_folder_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CrossEncoder(tmp_path / "nothing" / "here")
    with pytest.raises(FileNotFoundError, match="has no crossrank.json or config.json"):
        CrossEncoder(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file"):
        CrossEncoder(tmp_path / "file")
    with pytest.raises(TypeError, match="model_name_or_path must be a folder path .str or Path. or a Hub id"):
        CrossEncoder(3)


def test_scoring_a_bundle_loads_no_torch(folder, crossrank_home):
    bundle = CrossEncoder(folder, progress=False).reranker.bundle.path
    code = ("import sys; from crossrank import CrossEncoder; m = CrossEncoder(sys.argv[1]); "
            "m.predict([('q', 'd'), ('q', 'e')]); m.rank('q', ['d', 'e'], return_documents=True); "
            "m.predict([('q', 'd')], activation_fn='none', apply_softmax=True); "
            "print(sorted(n for n in sys.modules if n.split('.')[0] in "
            "('torch', 'transformers', 'sentence_transformers', 'optimum', 'onnx')))")
    run = subprocess.run([sys.executable, "-c", code, str(bundle)], capture_output=True, text=True, timeout=300,
                         cwd=REPO, check=True)
    assert run.stdout.strip() == "[]", run.stdout


def _hub_cache(root, repo_id: str, folder) -> None:
    """huggingface_hub's cache layout with FOLDER's files as REPO_ID's main, as a download leaves it."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")


def test_a_hub_id_comes_from_huggingface_hub_then_is_exported_like_a_folder(folder, tmp_path,
                                                                            crossrank_home):  # noqa: F811
    pytest.importorskip("huggingface_hub")
    _hub_cache(tmp_path / "hub", "someone/tiny-ce", folder)
    model = CrossEncoder("someone/tiny-ce", cache_folder=str(tmp_path / "hub"), local_files_only=True,
                         progress=False)
    assert model.model_folder.source == tmp_path / "hub" / "models--someone--tiny-ce" / "snapshots" / "0123abcd"
    assert model.reranker.bundle.path == CrossEncoder(folder, progress=False).reranker.bundle.path  # same files
    assert CrossEncoder("someone/tiny-ce", cache_dir=str(tmp_path / "hub"), local_files_only=True,
                        progress=False).num_labels == 1  # the legacy name
    with pytest.raises(FileNotFoundError, match="'someone/absent' is no local folder, and the Hugging Face Hub"):
        CrossEncoder("someone/absent", cache_folder=str(tmp_path / "hub"), local_files_only=True)


def test_cheap_arguments_are_checked_before_a_first_export(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSRANK_HOME", str(tmp_path))
    monkeypatch.setattr(model_folder, "export_bundle", _no_export)
    for kwargs in ({"activation_fn": "gelu"}, {"num_labels": 0}, {"precision": "int4"}, {"device": "cuda"}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            CrossEncoder(folder, **kwargs)
