"""The one conversion protocol at the Python -> C++ boundary (csrc/bindings/convert.h).

A bad item deep in a long list is named by its index in the caller's list, also when the
reranker feeds the engine in chunks.
"""

from __future__ import annotations

import numpy as np
import pytest

import crossrank.reranker
from crossrank import Reranker

COUNT = 50
BAD = 37


@pytest.fixture(scope="module")
def tiny(tiny_bundle):
    return Reranker(tiny_bundle, precision="fp32", activation="none")


@pytest.fixture(params=[crossrank.reranker.CHUNK_PAIRS, 8], ids=["one-chunk", "chunks-of-8"])
def chunked(request, monkeypatch):
    """Run each test with the engine fed in one chunk, then in chunks of 8 (BAD in the 5th)."""
    monkeypatch.setattr(crossrank.reranker, "CHUNK_PAIRS", request.param)


def _docs(bad: object) -> list:
    docs: list = [f"document number {i}" for i in range(COUNT)]
    docs[BAD] = bad
    return docs


def test_score_pairs_names_the_bad_document(tiny, chunked):
    pairs = [("q", doc) for doc in _docs("bad \ud800 text")]
    with pytest.raises(ValueError, match=rf"^document {BAD} is not valid Unicode \(lone surrogate at character 4\)$"):
        tiny.score_pairs(pairs)
    pairs[BAD] = ("q", None)
    with pytest.raises(TypeError, match=rf"^pair {BAD}: document must be str, got None$"):
        tiny.score_pairs(pairs)


def test_rank_names_the_bad_document(tiny, chunked):
    with pytest.raises(ValueError, match=rf"^document {BAD} is not valid Unicode \(lone surrogate at character 0\)$"):
        tiny.rank("q", _docs("\udfff"))
    with pytest.raises(TypeError, match=rf"^document {BAD} must be str, got bytes$"):
        tiny.rank("q", _docs(b"bytes"))
    with pytest.raises(ValueError, match=r"^query 0 is not valid Unicode \(lone surrogate at character 2\)$"):
        tiny.rank("ab\ud800", _docs("fine"))


def test_encode_pairs_names_the_bad_pair(tiny):
    pairs = [(f"query {i}", "d") for i in range(COUNT)]
    pairs[BAD] = ("x\udfffy", "d")
    with pytest.raises(ValueError, match=rf"^pair {BAD}: query is not valid Unicode \(lone surrogate at character 1\)$"):
        tiny.tokenizer.encode_pairs(pairs)
    native = tiny.tokenizer.native
    with pytest.raises(TypeError, match=rf"^document {BAD} must be str, got int$"):
        native.encode_pairs(["q"] * COUNT, _docs(3), 16)
    with pytest.raises(TypeError, match=r"^docs must be a sequence of str, got str$"):
        native.encode_pairs(["q"], "d", 16)
    with pytest.raises(ValueError, match=r"^text is not valid Unicode \(lone surrogate at character 3\)$"):
        tiny.tokenizer.encode("abc\ud800")


def test_score_token_ids_names_the_bad_document(tiny, chunked):
    ids = tiny.encode_documents([f"document number {i}" for i in range(COUNT)])
    bad = list(ids)
    bad[BAD] = [1, 2, "a"]
    with pytest.raises(TypeError, match=rf"^document {BAD} must be a sequence of int token ids; item 2 is str$"):
        tiny.score_token_ids("q", bad)
    bad[BAD] = "1 2"
    with pytest.raises(TypeError, match=rf"^document {BAD} must be a sequence of int token ids, got str$"):
        tiny.score_token_ids("q", bad)
    bad[BAD] = [1.0]
    with pytest.raises(TypeError, match=rf"^document {BAD} must be a sequence of int token ids; item 0 is float$"):
        tiny.score_token_ids("q", bad)
    bad[BAD] = [1, 1 << 40]
    with pytest.raises(ValueError, match=rf"^document {BAD}: token id {1 << 40} is outside the vocabulary$"):
        tiny.score_token_ids("q", bad)
    bad[BAD] = [1, 10**7]
    with pytest.raises(ValueError, match=rf"^pair {BAD}: token id {10**7} is outside the vocabulary$"):
        tiny.score_token_ids("q", bad)


def test_token_ids_may_be_numpy_integers(tiny):
    ids = tiny.encode_documents(["a first document", "a second one"])
    as_arrays = [np.array(row, dtype=np.int64) for row in ids]
    np.testing.assert_array_equal(tiny.score_token_ids("q", as_arrays), tiny.score_token_ids("q", ids))
