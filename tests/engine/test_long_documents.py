"""Long documents: windows over each document's tokens, scored in one engine call and aggregated
(FirstP, MaxP, MeanP); the early-stopping tokenizer behind max_tokens_per_doc; the options' errors."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

from crossrank import _native, workloads
from crossrank.reranker import Reranker, TruncationWarning

MAX_LENGTH = 64  # small, so that ordinary passages need several windows


@pytest.fixture(scope="module")
def tiny(tiny_bundle):
    return Reranker(tiny_bundle, precision="fp32", activation="none", max_length=MAX_LENGTH)


@pytest.fixture(scope="module")
def long_pairs():
    docs = [" ".join(workloads.passages(6, seed=seed)) for seed in range(5)] + ["", "short text"]
    return [(workloads.query(i), doc) for i, doc in enumerate(docs)]


def _windows(tiny, query, doc, window=None, stride=None, max_windows=16):
    """Reference windows in Python: the document's ids cut by _native.window_spans."""
    query_ids = tiny.tokenizer.encode(query)
    ids = tiny.tokenizer.encode(doc)
    window = min(window or MAX_LENGTH - 3 - len(query_ids), MAX_LENGTH - 3 - len(query_ids))
    stride = min(stride or max(1, window * 3 // 4), window)
    spans = _native.window_spans(len(ids), window, stride)[:max_windows]
    return spans, [ids[begin:end] for begin, end in spans]


# ------------------------------------------------------------------------------ windows


@pytest.mark.parametrize("tokens,window,stride", [(0, 8, 6), (5, 8, 8), (8, 8, 6), (9, 8, 6), (100, 8, 6),
                                                  (100, 8, 1), (101, 10, 10), (1000, 61, 45)])
def test_windows_cover_the_document_with_the_stated_overlap(tokens, window, stride):
    spans = _native.window_spans(tokens, window, stride)
    assert spans[0][0] == 0 and spans[-1][1] == tokens
    assert all(end - begin == window for begin, end in spans[:-1])
    assert all(b2 - b1 == stride for (b1, _), (b2, _) in zip(spans, spans[1:]))  # overlap = window - stride
    assert len(spans) == (1 if tokens <= window else 1 + -(-(tokens - window) // stride))


def test_each_window_scores_as_its_ids_alone_and_maxp_is_their_max(tiny, long_pairs):
    for query, doc in long_pairs:
        spans, parts = _windows(tiny, query, doc, window=20, stride=15)
        alone = tiny.score_token_ids(query, parts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            maxp = tiny.score_pairs([(query, doc)], long_documents="maxp", window=20, stride=15)
            meanp = tiny.score_pairs([(query, doc)], long_documents="meanp", window=20, stride=15)
            firstp = tiny.score_pairs([(query, doc)], long_documents="firstp", window=20, stride=15)
            best = tiny.rank(query, [doc], long_documents="maxp", window=20, stride=15)[0]
        assert tiny.last_stats.windows == len(parts)
        assert maxp[0] == alone.max()  # same ids, same pair, same logits: exactly
        assert firstp[0] == alone[0]
        np.testing.assert_allclose(meanp[0], alone.astype(np.float64).mean(), rtol=1e-6)
        assert best.window == int(np.argmax(alone)) and best.span == tuple(spans[best.window])


def test_the_default_window_fills_what_the_query_leaves(tiny, long_pairs):
    query, doc = long_pairs[0]
    spans, parts = _windows(tiny, query, doc)
    with pytest.warns(TruncationWarning):
        scores = tiny.score_pairs([(query, doc)], long_documents="maxp")
    assert scores[0] == tiny.score_token_ids(query, parts).max()
    assert tiny.last_stats.windows == len(parts) > 1


def test_firstp_equals_truncation(tiny, long_pairs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        truncated = tiny.score_pairs(long_pairs)
        firstp = tiny.score_pairs(long_pairs, long_documents="firstp")
    np.testing.assert_array_equal(firstp, truncated)


def test_order_and_queries_are_kept(tiny, long_pairs):
    pairs = long_pairs * 2
    order = list(range(len(pairs)))
    random.Random(3).shuffle(order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        scores = tiny.score_pairs(pairs, long_documents="maxp", window=16)
        shuffled = tiny.score_pairs([pairs[i] for i in order], long_documents="maxp", window=16)
        alone = [tiny.score_pairs([pair], long_documents="maxp", window=16)[0] for pair in pairs]
    np.testing.assert_array_equal(shuffled, scores[order])
    np.testing.assert_array_equal(scores, np.array(alone, dtype=np.float32))


def test_rank_names_the_best_window_and_sorts(tiny, long_pairs):
    query = long_pairs[0][0]
    docs = [doc for _, doc in long_pairs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        hits = tiny.rank(query, docs, long_documents="maxp", window=16, top_k=4)
        scores = tiny.score_pairs([(query, d) for d in docs], long_documents="maxp", window=16)
    assert [h.index for h in hits] == list(np.argsort(-scores, kind="stable")[:4])
    assert all(h.window is not None and h.span[0] <= h.span[1] for h in hits)
    assert all(h.window is None and h.span is None for h in tiny.rank(query, docs[-2:]))


def test_max_windows_and_max_tokens_per_doc_are_counted_in_one_warning(tiny, long_pairs):
    query, doc = long_pairs[1]
    spans, parts = _windows(tiny, query, doc, window=10, stride=10)
    assert len(parts) > 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = tiny.score_pairs([(query, doc)] * 3, long_documents="maxp", window=10, stride=10, max_windows=3)
    assert [str(w.message).count("longer than max_windows=3") for w in caught] == [1]
    stats = tiny.last_stats
    assert (stats.windows, stats.max_windows_documents, stats.truncated_documents) == (9, 3, 3)
    assert scores[0] == tiny.score_token_ids(query, parts[:3]).max()
    with pytest.warns(TruncationWarning, match="cut at max_tokens_per_doc=25"):
        capped = tiny.score_pairs([(query, doc)], long_documents="maxp", window=10, stride=10,
                                  max_tokens_per_doc=25)
    assert tiny.last_stats.capped_documents == 1 and tiny.last_stats.windows == 3
    ids = tiny.tokenizer.encode(doc)[:25]
    assert capped[0] == tiny.score_token_ids(query, [ids[0:10], ids[10:20], ids[20:25]]).max()


def test_max_tokens_per_doc_with_truncation_cuts_first(tiny, long_pairs):
    query, doc = long_pairs[2]
    with pytest.warns(TruncationWarning):
        scores = tiny.score_pairs([(query, doc)], max_tokens_per_doc=7)
    assert tiny.last_stats.capped_documents == 1 and tiny.last_stats.truncated_documents == 1
    assert scores[0] == tiny.score_token_ids(query, [tiny.tokenizer.encode(doc)[:7]])[0]


def test_a_cancelled_token_stops_a_windowed_call(tiny, long_pairs):
    token = _native.CancelToken()
    token.cancel()
    queries, docs = zip(*long_pairs)
    with pytest.raises(_native.Cancelled):
        tiny._engine.score_windows(list(queries), list(docs), cancel=token, window=8)


@pytest.mark.parametrize("options,match", [
    ({"long_documents": "best"}, "long_documents must be one of"),
    ({"long_documents": "maxp", "window": 0}, "window must be an int from 1"),
    ({"long_documents": "maxp", "window": 1.5}, "window must be"),
    ({"long_documents": "maxp", "window": MAX_LENGTH - 2}, "the model's limit"),
    ({"long_documents": "maxp", "window": 8, "stride": 9}, "stride must be an int from 1 to the window"),
    ({"long_documents": "maxp", "stride": 0}, "stride must be"),
    ({"long_documents": "maxp", "max_windows": 0}, "max_windows must be"),
    ({"long_documents": "maxp", "max_tokens_per_doc": 0}, "max_tokens_per_doc must be"),
    ({"window": 8}, "pass long_documents='maxp'"),
    ({"long_documents": "firstp", "max_windows": 2}, "does not apply to long_documents='firstp'"),
])
def test_bad_options_name_the_argument(tiny, options, match):
    with pytest.raises(ValueError, match=match):
        tiny.score_pairs([("q", "d")], **options)
    with pytest.raises(ValueError, match=match):
        tiny.rank("q", ["d"], **options)


# ------------------------------------------------------------------------------ early stop


def _texts():
    rng = random.Random(7)
    base = workloads.passages(20, seed=5)
    odd = ["a\x0bb c\x0cd " * 40, "x \u0301y " * 60, "日本語の文章 " * 50, "[SEP] [CLS]x[MASK] " * 30,
           "tab\tnew\nline\r\nend " * 40, "w" * 300 + " " + "v" * 90, "no-whitespace," * 200, "", "   "]
    mixed = [" ".join(rng.choice(base).split()[: rng.randint(1, 200)]) for _ in range(10)]
    return base + odd + mixed


def test_encode_prefix_equals_encode_cut(tiny):
    native = tiny.tokenizer.native
    for text in _texts():
        full = tiny.tokenizer.encode(text)
        for limit in sorted({0, 1, 2, 5, 17, 64, len(full) - 1, len(full), len(full) + 1, 1000}):
            if limit < 0:
                continue
            ids, cut = _native.testing.encode_prefix(native, text, limit)
            assert ids == full[:limit] and cut == (len(full) > limit), (text[:40], limit)


def test_a_huge_document_is_tokenized_only_as_far_as_needed(tiny):
    huge = ("lorem ipsum dolor sit amet consectetur " * 270_000)[:10_000_000]
    before = _native.testing.tokenized_bytes()
    with pytest.warns(TruncationWarning):
        tiny.score_pairs([("query", huge)], long_documents="maxp", max_windows=200, max_tokens_per_doc=4096)
    read = _native.testing.tokenized_bytes() - before
    assert tiny.last_stats.capped_documents == 1
    assert 4096 * 4 < read < 4096 * 6 * 2  # ~what 4,096 tokens take, not 10 MB
    before = _native.testing.tokenized_bytes()
    with pytest.warns(TruncationWarning):
        tiny.score_pairs([("query", huge)])  # plain truncation stops early too
    assert _native.testing.tokenized_bytes() - before < 10_000
