"""Reranker options and rank()'s top_k: every wrong value raises ValueError naming the argument
(never pybind11's "incompatible constructor arguments" or a `_native` class), None means the
default, numpy integers are accepted and bool never is."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crossrank._validation import INT32_MAX, check_int, check_non_negative_int, check_number
from crossrank.reranker import Reranker

NAN, INF = math.nan, math.inf


@pytest.fixture(scope="module")
def tiny(tiny_bundle):
    return Reranker(tiny_bundle, threads=2)


@pytest.mark.parametrize("option, value", [
    ("threads", 2.5), ("threads", INF), ("threads", NAN), ("threads", 0), ("threads", -1), ("threads", True),
    ("threads", "2"), ("threads", INT32_MAX + 1),
    ("concurrent_batches", 1.5), ("concurrent_batches", 0), ("concurrent_batches", 3), ("concurrent_batches", True),
    ("max_padded_tokens", NAN), ("max_padded_tokens", INF), ("max_padded_tokens", 100), ("max_padded_tokens", 2**40),
    ("max_padded_tokens", 16384.0),
    ("max_batch_size", NAN), ("max_batch_size", 0), ("max_batch_size", -3), ("max_batch_size", 2**63),
    ("batch_overhead_tokens", -1), ("batch_overhead_tokens", 0.5), ("batch_overhead_tokens", NAN),
    ("max_length", 3), ("max_length", 513), ("max_length", 128.0), ("max_length", NAN), ("max_length", False),
    ("precision", ""), ("precision", "int4"), ("precision", 8),
    ("activation", ""), ("activation", "relu"),
    ("truncation", ""), ("truncation", None),
    ("verify_checksums", "yes"), ("verify_checksums", 1),
])
def test_bad_option_is_named(tiny_bundle, option, value):
    kwargs = {"threads": 2} if option == "concurrent_batches" else {}
    with pytest.raises(ValueError, match=f"^{option} must be") as raised:
        Reranker(tiny_bundle, **kwargs, **{option: value})
    assert "_native" not in str(raised.value) and "incompatible" not in str(raised.value)
    assert repr(value)[:20] in str(raised.value)


def test_negative_threads_blame_threads_not_concurrent_batches(tiny_bundle):
    with pytest.raises(ValueError, match="^threads must be"):
        Reranker(tiny_bundle, threads=-1, concurrent_batches=1)


def test_concurrent_batches_message_names_the_bound(tiny_bundle):
    with pytest.raises(ValueError, match=r"concurrent_batches must be an int from 1 to threads=2 or None, got 3"):
        Reranker(tiny_bundle, threads=2, concurrent_batches=3)


def test_none_means_the_default(tiny_bundle):
    reranker = Reranker(tiny_bundle, precision=None, activation=None, max_length=None, threads=None,
                        concurrent_batches=None)
    assert reranker.precision == reranker.bundle.default_precision
    assert reranker.activation == reranker.bundle.activation
    assert reranker.max_length == reranker.bundle.max_length
    assert reranker.threads >= 1 and reranker.concurrent_batches == reranker.threads


def test_numpy_integers_are_accepted(tiny_bundle):
    reranker = Reranker(tiny_bundle, threads=np.int64(2), concurrent_batches=np.int32(1),
                        max_length=np.int64(64), max_padded_tokens=np.int64(4096), max_batch_size=np.int16(4),
                        batch_overhead_tokens=np.uint8(0))
    assert (reranker.threads, reranker.concurrent_batches, reranker.max_length) == (2, 1, 64)
    assert type(reranker.threads) is int
    assert reranker.score_pairs([("q", "d")]).shape == (1,)


@pytest.mark.parametrize("top_k", [True, False, 0, -1, 1.0, NAN, "3"])
def test_rank_refuses_bad_top_k(tiny, top_k):
    with pytest.raises(ValueError, match="^top_k must be a positive int or None"):
        tiny.rank("q", ["a", "b", "c"], top_k=top_k)


def test_rank_accepts_numpy_top_k(tiny):
    assert len(tiny.rank("q", ["a", "b", "c"], top_k=np.int64(2))) == 2


def test_checks_never_let_nan_inf_or_bool_through():
    for value in (NAN, INF, -INF, True, 1.0, "1", None):
        with pytest.raises(ValueError, match="^n must be"):
            check_int(value, "n", minimum=0, maximum=10)
        with pytest.raises(ValueError, match="^n must be a non-negative int"):
            check_non_negative_int(value, "n")
    for value in (NAN, INF, -INF, True, "0.5", None):
        with pytest.raises(ValueError, match="^share must be a finite number from 0 to 1"):
            check_number(value, "share", minimum=0, maximum=1)
    assert check_number(np.float32(0.5), "share", minimum=0, maximum=1) == 0.5
    assert check_int(np.uint64(3), "n", minimum=0) == 3


def test_bundle_of_the_wrong_type_is_named():
    with pytest.raises(TypeError, match="bundle must be a folder path"):
        Reranker(5)
