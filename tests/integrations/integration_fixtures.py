"""Fixtures of the drop-in tests, loaded with ``pytest_plugins = ["integration_fixtures"]``: a
session-wide CROSSRANK_HOME, tiny Hugging Face cross-encoder folders (one and two labels), and each
loaded by sentence-transformers and by crossrank.CrossEncoder."""

from __future__ import annotations

import pytest
from fixture_helpers import _need_export_extra, make_tiny_model_dir
from integration_cases import crossrank_home_set


@pytest.fixture(scope="session")
def crossrank_home_dir(tmp_path_factory):
    """The CROSSRANK_HOME of these tests' exports (each exported once per session, not into ~/.cache)."""
    return tmp_path_factory.mktemp("crossrank-home")


@pytest.fixture
def crossrank_home(crossrank_home_dir):
    """CROSSRANK_HOME set to crossrank_home_dir for one test."""
    with crossrank_home_set(crossrank_home_dir):
        yield crossrank_home_dir


@pytest.fixture(scope="session", params=[1, 2], ids=["1-label", "2-labels"])
def hf_folder(request, tmp_path_factory, minilm_model_dir):
    """A tiny random BERT sequence-classification folder with all-MiniLM-L6-v2's tokenizer."""
    _need_export_extra()
    folder = tmp_path_factory.mktemp("hf") / f"tiny-{request.param}"
    return make_tiny_model_dir(folder, minilm_model_dir, num_labels=request.param)


@pytest.fixture(scope="session")
def models(hf_folder, crossrank_home_dir):
    """(sentence-transformers' CrossEncoder, crossrank.CrossEncoder in fp32) on HF_FOLDER."""
    st = pytest.importorskip("sentence_transformers")
    from crossrank.integrations.sentence_transformers import CrossEncoder

    with crossrank_home_set(crossrank_home_dir):
        ours = CrossEncoder(hf_folder, precision="fp32", progress=False)
    return st.CrossEncoder(str(hf_folder), device="cpu"), ours
