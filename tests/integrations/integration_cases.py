"""Shared by the drop-in tests (import the fixtures from here): tiny Hugging Face cross-encoder folders (one and two labels), each
loaded by sentence-transformers and by crossrank.CrossEncoder (exported once into a session-wide
CROSSRANK_HOME), and the PAIRS they score."""

from __future__ import annotations

import pytest
from conftest import _need_export_extra, make_tiny_model_dir

QUERY = "what is the capital of france"
DOCS = [
    "Paris is the capital and most populous city of France.",
    "Berlin is the capital of Germany.",
    "The Eiffel Tower is in Paris, France's capital city.",
    "Bananas are rich in potassium.",
    "",
    "France's capital, Paris, sits on the Seine; Lyon and Marseille are other large cities.",
]
# Varied pairs: casing, punctuation, non-ASCII, an empty side, one longer than max_length.
PAIRS = [(QUERY, doc) for doc in DOCS] + [
    ("HOW DO VACCINES WORK?!", "vaccines... immune system; antibodies & memory cells"),
    ("café crème", "Crème brûlée — custard with caramelised sugar. 日本語のテキスト。"),
    ("", "an empty query"),
    ("long", " ".join(f"word{i % 50} and more text" for i in range(400))),
]


@pytest.fixture(scope="session")
def crossrank_home(tmp_path_factory):
    """A CROSSRANK_HOME of this session: the drop-ins' exports go there, not into ~/.cache."""
    home = tmp_path_factory.mktemp("crossrank-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSRANK_HOME", str(home))
        yield home


@pytest.fixture(scope="session", params=[1, 2], ids=["1-label", "2-labels"])
def hf_folder(request, tmp_path_factory, minilm_model_dir):
    """A tiny random BERT sequence-classification folder with all-MiniLM-L6-v2's tokenizer."""
    _need_export_extra()
    folder = tmp_path_factory.mktemp("hf") / f"tiny-{request.param}"
    return make_tiny_model_dir(folder, minilm_model_dir, num_labels=request.param)


@pytest.fixture(scope="session")
def models(hf_folder, crossrank_home):
    """(sentence-transformers' CrossEncoder, crossrank.CrossEncoder in fp32) on HF_FOLDER."""
    st = pytest.importorskip("sentence_transformers")
    from crossrank.integrations.sentence_transformers import CrossEncoder

    return st.CrossEncoder(str(hf_folder), device="cpu"), CrossEncoder(hf_folder, precision="fp32", progress=False)
