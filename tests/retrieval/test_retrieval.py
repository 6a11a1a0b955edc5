"""Stage one and the glue: corpus checks, BM25, exact top-k, fusion, pools, the pipeline."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("bm25s")
pytest.importorskip("Stemmer")

from crossrank.retrieval import (  # noqa: E402
    BM25Retriever,
    Corpus,
    CorpusTooSmallWarning,
    Hit,
    Pipeline,
    TokenStore,
    build_pool,
    exact_topk,
    load_retriever,
    pool_recall,
    reciprocal_rank_fusion,
)
from crossrank.retrieval.topk import select_topk  # noqa: E402

DOCS = [
    ("d0", "The cat sat on the mat."),
    ("d1", "Dogs are running in the park."),
    ("d2", "A cat and a dog became friends."),
    ("d3", "Quantum chromodynamics describes the strong interaction."),
    ("d4", "The stock market fell sharply on Monday."),
    ("d5", "Cats purr when they are content; a cat is a small feline."),
]


def full_sort(scores: np.ndarray, k: int) -> np.ndarray:
    """Reference: sort each row by (score desc, index asc)."""
    n = scores.shape[1]
    return np.lexsort((np.broadcast_to(np.arange(n), scores.shape), -scores), axis=1)[:, :k]


# ------------------------------------------------------------------------------------ corpus


def test_corpus_from_strings_pairs_and_mapping():
    assert Corpus.from_documents(["a", "b"]).ids == [0, 1]
    c = Corpus.from_documents(DOCS)
    assert c.ids[3] == "d3" and c.index_of("d5") == 5 and "d1" in c and len(c) == 6
    assert Corpus.from_documents(dict(DOCS)) == c
    assert Corpus.from_documents([(7, "x"), (3, "y")]).index_of(3) == 1


@pytest.mark.parametrize("docs, error, match", [
    ([], ValueError, "empty"),
    ("just one string", TypeError, "not a single string"),
    ([("a", "x"), ("a", "y")], ValueError, "duplicate document id 'a'"),
    (["x", 3], TypeError, "document 1: expected str"),
    (["x", None], TypeError, "document 1"),
    ([("a", "x"), ("b", None)], TypeError, "document 1: text must be str, got None"),
    ([("a", "x"), ("b", b"bytes")], TypeError, "text must be str"),
    ([("a", "x"), "y"], TypeError, "document 1"),
    ([(1.5, "x")], TypeError, "id must be str or int"),
    ([(True, "x")], TypeError, "id must be str or int"),
    (42, TypeError, "documents must be"),
])
def test_corpus_bad_input(docs, error, match):
    with pytest.raises(error, match=match):
        Corpus.from_documents(docs)
    if docs != 42 and not isinstance(docs, str):
        with pytest.raises(error, match=match):
            BM25Retriever.build(docs)


# ------------------------------------------------------------------------------------ BM25


@pytest.fixture(scope="module")
def bm25():
    return BM25Retriever.build(DOCS)


def test_bm25_finds_the_right_documents(bm25):
    assert bm25.search("quantum chromodynamics", 1)[0].id == "d3"
    assert bm25.search("stock market", 1)[0].id == "d4"
    top = [h.id for h in bm25.search("cats", 3)]  # stemming: cats ~ cat
    assert set(top) == {"d0", "d2", "d5"} and top[0] == "d5"
    assert bm25.search("dog running", 1)[0].id == "d1"
    hit = bm25.search("feline", 1)[0]
    assert isinstance(hit, Hit) and hit.text == DOCS[5][1] and hit.index == 5 and hit.stage_two_score is None
    assert hit.score == hit.stage_one_score > 0


def test_bm25_scores_match_bm25s_and_are_sorted(bm25):
    scores = bm25.scores("cat dog")
    idx, vals = bm25.retrieve("cat dog", 6)
    assert vals.dtype == np.float32 and idx.dtype == np.int64
    assert np.array_equal(idx, full_sort(scores[None, :], 6)[0])
    assert np.array_equal(vals, scores[idx])


def test_bm25_query_without_known_terms_ties_go_to_lower_index(bm25):
    for query in ("", "the", "zzzz unknownword"):
        idx, vals = bm25.retrieve(query, 4)
        assert idx.tolist() == [0, 1, 2, 3] and not vals.any()


def test_k_larger_than_corpus_is_clipped_with_a_warning(bm25):
    with pytest.warns(CorpusTooSmallWarning, match="k=50 is larger than the corpus"):
        hits = bm25.search("cat", 50)
    assert len(hits) == len(DOCS)
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="k must be a positive int"):
            bm25.search("cat", bad)
    with pytest.raises(TypeError, match="query must be str"):
        bm25.search(None)
    with pytest.raises(TypeError, match="not a single string"):
        bm25.retrieve_many("cat")


def test_bm25_save_load_round_trip(bm25, tmp_path):
    bm25.save(tmp_path / "idx")
    again = load_retriever(tmp_path / "idx")
    assert isinstance(again, BM25Retriever) and again.corpus == bm25.corpus
    for query in ("cat", "strong interaction", "market monday dogs", "nothing"):
        a, b = bm25.retrieve(query, 5), again.retrieve(query, 5)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert BM25Retriever.load(tmp_path / "idx").corpus == bm25.corpus
    # saving again over an index replaces it; over another folder is refused
    bm25.save(tmp_path / "idx")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        bm25.save(tmp_path / "other")
    with pytest.raises(FileNotFoundError, match="no crossrank index"):
        load_retriever(tmp_path / "other")


def test_bm25_without_stemming():
    r = BM25Retriever.build(["a cat", "many cats"], stemmer=None)
    assert [h.index for h in r.search("cats", 2)] == [1, 0]
    assert r.search("cats", 2)[1].stage_one_score == 0.0


# ------------------------------------------------------------------------------------ exact top-k

small_ints = st.integers(-3, 3).map(float)


@st.composite
def topk_case(draw):
    n = draw(st.integers(1, 60))
    d = draw(st.integers(1, 4))
    q = draw(st.integers(1, 5))
    corpus = np.array(draw(st.lists(st.lists(small_ints, min_size=d, max_size=d), min_size=n, max_size=n)),
                      dtype=np.float32)
    queries = np.array(draw(st.lists(st.lists(small_ints, min_size=d, max_size=d), min_size=q, max_size=q)),
                       dtype=np.float32)
    k = draw(st.integers(1, n))
    block_bytes = draw(st.sampled_from([1, 100, 1000, 1 << 20]))
    return queries, corpus, k, block_bytes


@settings(max_examples=300, deadline=None)
@given(topk_case())
def test_exact_topk_equals_full_sort_with_ties(case):
    # small integers: every dot product is exact, so ties are exact and frequent
    queries, corpus, k, block_bytes = case
    idx, vals = exact_topk(queries, corpus, k, block_bytes=block_bytes)
    scores = queries @ corpus.T
    ref = full_sort(scores, k)
    assert idx.shape == vals.shape == (len(queries), k)
    assert idx.dtype == np.int64 and vals.dtype == np.float32
    assert np.array_equal(idx, ref)
    assert np.array_equal(vals, np.take_along_axis(scores, ref, axis=1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-2, 2).map(float), min_size=1, max_size=80), st.data())
def test_select_topk_equals_full_sort(values, data):
    scores = np.array([values], dtype=np.float32)
    k = data.draw(st.integers(1, len(values)))
    idx, vals = select_topk(scores, k, offset=5)
    assert np.array_equal(idx - 5, full_sort(scores, k))


def test_exact_topk_random_floats_blocks_do_not_matter():
    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((3000, 16)).astype(np.float32)
    queries = rng.standard_normal((7, 16)).astype(np.float32)
    ref_idx, ref_vals = exact_topk(queries, corpus, 25, block_bytes=1 << 30)  # one block
    scores = queries @ corpus.T
    assert np.array_equal(ref_idx, full_sort(scores, 25))
    np.testing.assert_allclose(ref_vals, np.take_along_axis(scores, ref_idx, 1), rtol=1e-5, atol=1e-5)
    for block_bytes in (1, 5000, 200_000):
        idx, vals = exact_topk(queries, corpus, 25, block_bytes=block_bytes)
        assert np.array_equal(idx, ref_idx)
        np.testing.assert_allclose(vals, ref_vals, rtol=1e-5, atol=1e-5)
    one_idx, one_vals = exact_topk(queries[3], corpus, 25)
    assert one_idx.shape == (25,) and np.array_equal(one_idx, ref_idx[3])
    # float64 input is converted block by block, results stay float32
    idx64, vals64 = exact_topk(queries.astype(np.float64), corpus.astype(np.float64), 25)
    assert vals64.dtype == np.float32 and np.array_equal(idx64, ref_idx)


def test_exact_topk_k_equal_to_corpus_and_errors():
    corpus = np.eye(3, dtype=np.float32)
    idx, vals = exact_topk(np.array([0.0, 1.0, 0.0], np.float32), corpus, 3)
    assert idx.tolist() == [1, 0, 2] and vals.tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="k=4 is larger than the corpus"):
        exact_topk(corpus[0], corpus, 4)
    with pytest.raises(ValueError, match="k must be a positive int"):
        exact_topk(corpus[0], corpus, 0)
    with pytest.raises(ValueError, match="empty"):
        exact_topk(corpus[0], np.empty((0, 3), np.float32), 1)
    with pytest.raises(ValueError, match="dimension"):
        exact_topk(np.ones(4, np.float32), corpus, 1)
    with pytest.raises(ValueError, match="NaN"):
        exact_topk(np.array([np.nan, 0, 0], np.float32), corpus, 1)
    bad = corpus.copy()
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        exact_topk(corpus[0], bad, 1)
    with pytest.raises(ValueError, match="2-D"):
        exact_topk(corpus[0], corpus[0], 1)
    with pytest.raises(TypeError, match="numbers"):
        exact_topk(np.array(["a", "b", "c"]), corpus, 1)


# ------------------------------------------------------------------------------------ fusion


def test_reciprocal_rank_fusion_by_hand():
    idx, scores = reciprocal_rank_fusion([[3, 1, 2], [1, 4]], k=60)
    expected = {3: 1 / 61, 1: 1 / 62 + 1 / 61, 2: 1 / 63, 4: 1 / 62}
    assert idx.tolist() == [1, 3, 4, 2]
    np.testing.assert_allclose(scores, [expected[i] for i in idx.tolist()], rtol=1e-12)
    # ties go to the lower index: 5 and 2 are both first in one ranking
    assert reciprocal_rank_fusion([[5], [2]])[0].tolist() == [2, 5]
    assert reciprocal_rank_fusion([[5], [2]], weights=[2.0, 1.0])[0].tolist() == [5, 2]
    with pytest.raises(ValueError, match="twice"):
        reciprocal_rank_fusion([[1, 1]])


# ------------------------------------------------------------------------------------ pools


def test_build_pool_dedupe_and_cap():
    corpus = Corpus.from_documents([("a", "Same text"), ("b", "other"), ("c", "same   TEXT"), ("d", "x")])
    pool = build_pool([2, 1, 2, 0, 3], [9.0, 8.0, 7.0, 6.0, 5.0], cap=None, dedupe="id", corpus=corpus)
    assert pool.indices.tolist() == [2, 1, 0, 3] and pool.scores.tolist() == [9.0, 8.0, 6.0, 5.0]
    assert pool.dropped == 1 and pool.ids == ["c", "b", "a", "d"]
    pool = build_pool([2, 1, 2, 0, 3], [9.0, 8.0, 7.0, 6.0, 5.0], cap=2, dedupe="text", corpus=corpus)
    assert pool.indices.tolist() == [2, 1] and pool.dropped == 2 and pool.capped == 1
    pool = build_pool([2, 1, 2], [3.0, 2.0, 1.0], cap=10, dedupe=None)
    assert pool.indices.tolist() == [2, 1, 2] and pool.dropped == 0
    with pytest.raises(ValueError, match="dedupe"):
        build_pool([0], [1.0], cap=1, dedupe="url")
    with pytest.raises(ValueError, match="cap"):
        build_pool([0], [1.0], cap=0)


def test_pool_recall():
    assert pool_recall(["a", "b"], {"a": 1, "c": 2, "z": 0}) == 0.5
    assert pool_recall(["a", "b"], ["a", "b", "c", "d"]) == 0.5
    assert np.isnan(pool_recall(["a"], {"x": 0}))
    corpus = Corpus.from_documents(DOCS)
    pool = build_pool([5, 0, 2], [3.0, 2.0, 1.0], cap=2, corpus=corpus)
    assert pool.recall({"d5": 1, "d2": 1}) == 0.5


# ------------------------------------------------------------------------------------ pipeline


def test_pipeline_stage_one_only(bm25):
    pipe = Pipeline(bm25, None, pool_size=4, top_k=2)
    hits = pipe.search("cat")
    assert [h.id for h in hits] == [h.id for h in bm25.search("cat", 2)]
    assert all(h.stage_two_score is None for h in hits)
    assert pipe.last_timings.stage_one_s >= 0 and len(pipe.last_pool) == 4
    assert len(pipe.search("cat", top_k=3)) == 3
    with pytest.warns(CorpusTooSmallWarning, match="pool_size=100"):
        Pipeline(bm25, pool_size=100)
    with pytest.raises(ValueError, match="pool_size must be a positive int"):
        Pipeline(bm25, pool_size=0)
    with pytest.raises(ValueError, match="no reranker"):
        pipe.score_pool("cat", pipe.candidates("cat"))
    with pytest.raises(ValueError, match="give a retriever"):
        Pipeline(None)


def test_pipeline_text_dedupe():
    docs = [("a", "red apples are sweet"), ("b", "Red  apples are SWEET"), ("c", "green apples"), ("d", "bananas")]
    r = BM25Retriever.build(docs)
    pipe = Pipeline(r, pool_size=3, top_k=3, dedupe="text")
    ids = [h.id for h in pipe.search("red apples")]
    assert ids[:2] == ["a", "c"] and "b" not in ids
    assert [h.id for h in Pipeline(r, pool_size=3, top_k=3).search("red apples")][:2] == ["a", "b"]


@pytest.fixture(scope="module")
def tiny_reranker(tiny_bundle):
    from crossrank import Reranker

    return Reranker(tiny_bundle, precision="fp32", threads=1)


def test_pipeline_reranks_and_pretokenized_scores_are_identical(bm25, tiny_reranker, tmp_path):
    plain = Pipeline(bm25, tiny_reranker, pool_size=6, top_k=6, pretokenize=False)
    fast = Pipeline(bm25, tiny_reranker, pool_size=6, top_k=6)
    assert plain.tokens is None and len(fast.tokens) == len(DOCS)
    for query in ("cat", "what makes the market fall", "strong interaction physics"):
        a, b = plain.search(query), fast.search(query)
        assert [(h.id, h.stage_two_score) for h in a] == [(h.id, h.stage_two_score) for h in b]
        scores = [h.stage_two_score for h in a]
        assert scores == sorted(scores, reverse=True)
        ref = tiny_reranker.score_pairs([(query, h.text) for h in a])
        assert np.array_equal(np.array(scores, np.float32), ref)
        pool = fast.candidates(query)
        assert np.array_equal(fast.score_pool(query, pool), plain.score_pool(query, pool))
        # stage-one scores carried through
        s1 = dict(zip(pool.indices.tolist(), pool.scores.tolist()))
        assert all(h.stage_one_score == s1[h.index] for h in b)
    # token store round trip
    fast.tokens.save(tmp_path / "tok")
    loaded = TokenStore.load(tmp_path / "tok", tiny_reranker)
    assert loaded.get(range(len(DOCS))) == fast.tokens.get(range(len(DOCS)))
    again = Pipeline(bm25, tiny_reranker, pool_size=6, top_k=6, tokens=loaded)
    assert [h.stage_two_score for h in again.search("cat")] == [h.stage_two_score for h in plain.search("cat")]


def test_pipeline_rerank_given_candidates(tiny_reranker):
    corpus = Corpus.from_documents(DOCS)
    pipe = Pipeline(None, tiny_reranker, pool_size=3, top_k=2, corpus=corpus)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hits = pipe.rerank("cats", ["d5", "d0", "d5", "d2", "d4"], [5.0, 4.0, 3.0, 2.0, 1.0])
    assert len(hits) == 2 and pipe.last_pool.ids == ["d5", "d0", "d2"]
    assert {h.id for h in hits} <= {"d5", "d0", "d2"}
    with pytest.raises(KeyError, match="nope"):
        pipe.rerank("cats", ["nope"])
    with pytest.raises(ValueError, match="no retriever"):
        pipe.search("cats")
