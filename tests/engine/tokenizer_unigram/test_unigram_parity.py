"""crossrank's Unigram tokenizer against Hugging Face `tokenizers` on XLM-RoBERTa tokenizer.json files:
ids and type ids of 10,000 multilingual pairs per file and truncation, single texts, and hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from unigram_cases import (assert_pairs_match, assert_texts_match, hf_lengths, multilingual_pairs)

from crossrank._validation import TRUNCATIONS


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    """10,000 pairs; documents up to ~100 multilingual pieces (hundreds of tokens)."""
    return multilingual_pairs(seed=11, count=10_000, doc_pieces=(0, 3, 20, 100))


@pytest.fixture(scope="module")
def short_corpus() -> list[tuple[str, str]]:
    """Pairs with short documents for tiny max_length (HF materializes every overflow window)."""
    return multilingual_pairs(seed=12, count=2_000, doc_pieces=(0, 1, 3, 6))


def test_single_texts_match_hf(xlmr_pair, corpus):
    ours, hf = xlmr_pair
    assert_texts_match(ours, hf, [q for q, _ in corpus] + [d for _, d in corpus])


@pytest.mark.parametrize("strategy", TRUNCATIONS)
def test_pairs_match_hf(xlmr_pair, corpus, strategy):
    ours, hf = xlmr_pair
    lengths = (hf_lengths(hf, [q for q, _ in corpus]), hf_lengths(hf, [d for _, d in corpus]))
    assert max(lengths[1]) > 512  # some documents are truncated at every max_length below
    for max_length in (512, 128):
        assert assert_pairs_match(ours, hf, corpus, max_length, strategy, lengths) == 10_000


@pytest.mark.parametrize("max_length", (5, 6, 9, 32))
@pytest.mark.parametrize("strategy", TRUNCATIONS)
def test_short_pairs_match_hf(xlmr_pair, short_corpus, max_length, strategy):
    ours, hf = xlmr_pair
    pairs = short_corpus[:400] if max_length < 9 else short_corpus
    assert assert_pairs_match(ours, hf, pairs, max_length, strategy) == len(pairs)


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT)
def test_property_any_text_matches_hf(xlmr_pair, text):
    ours, hf = xlmr_pair
    assert ours.encode(text) == hf.encode(text, add_special_tokens=False).ids


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT, st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
       st.sampled_from((5, 6, 8, 16, 64)), st.sampled_from(TRUNCATIONS))
def test_property_pairs_match_hf(xlmr_pair, query, doc, max_length, strategy):
    ours, hf = xlmr_pair
    assert_pairs_match(ours, hf, [(query, doc)], max_length, strategy)
