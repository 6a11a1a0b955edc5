"""crossrank.Tokenizer: parity with Hugging Face `tokenizers` (ids and type_ids), truncation flags
and input checks."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizer_cases import (
    MINILM_JSON,
    STRATEGIES,
    assert_pairs_match,
    assert_texts_match,
    hf_from_file,
    hf_lengths,
    random_pairs,
    random_text,
    tokenizer_variant,
    tokenizers,
)

from crossrank.tokenizer import Encoding, Tokenizer


@pytest.fixture(scope="module")
def minilm() -> Tokenizer:
    return Tokenizer.from_file(MINILM_JSON)


@pytest.fixture(scope="module")
def hf_minilm() -> tokenizers.Tokenizer:
    return hf_from_file(MINILM_JSON)


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    """10,000 pairs; documents up to ~110 pieces (several hundred tokens)."""
    return random_pairs(seed=1234, count=10_000)


@pytest.fixture(scope="module")
def short_corpus() -> list[tuple[str, str]]:
    """Pairs with shorter documents for tiny max_length: HF's reference run materializes every
    overflow window of both sides (their product for longest_first), which is slow for long texts."""
    return random_pairs(seed=4321, count=3_000, doc_pieces=(0, 2, 6, 12))


@pytest.fixture(scope="module")
def corpus_lengths(corpus, hf_minilm):
    return (hf_lengths(hf_minilm, [q for q, _ in corpus]), hf_lengths(hf_minilm, [d for _, d in corpus]))


# --------------------------------------------------------------------------------------------
# Parity
# --------------------------------------------------------------------------------------------


def test_single_texts_match_hf(minilm, hf_minilm, corpus):
    texts = [q for q, _ in corpus] + [d for _, d in corpus]
    assert_texts_match(minilm, hf_minilm, texts)


@pytest.mark.parametrize("max_length", (128, 512))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pairs_match_hf(minilm, hf_minilm, corpus, corpus_lengths, max_length, strategy):
    assert assert_pairs_match(minilm, hf_minilm, corpus, max_length, strategy, corpus_lengths) == 10_000


@pytest.mark.parametrize("max_length", (4, 5, 8, 32))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_short_pairs_match_hf(minilm, hf_minilm, short_corpus, max_length, strategy):
    pairs = short_corpus[:400] if max_length < 8 else short_corpus  # HF's overflow windows: slow
    assert assert_pairs_match(minilm, hf_minilm, pairs, max_length, strategy) == len(pairs)


def test_fallback_is_exercised(minilm, short_corpus):
    encs = minilm.encode_pairs(short_corpus, max_length=8, truncation="only_second")
    assert any(e.query_truncated for e in encs)
    assert any(e.truncated and not e.query_truncated for e in encs)
    assert any(not e.truncated for e in encs)


NORMALIZER_VARIANTS = {
    "cased": dict(lowercase=False, strip_accents=False),
    "strip_only": dict(lowercase=False, strip_accents=True),
    "lower_keep_accents": dict(lowercase=True, strip_accents=False),
    "no_clean_no_chinese": dict(clean_text=False, handle_chinese_chars=False),
}


@pytest.mark.parametrize("variant", sorted(NORMALIZER_VARIANTS))
def test_normalizer_variants_match_hf(tmp_path, variant):
    path = tokenizer_variant(tmp_path, variant, lambda c: c["normalizer"].update(NORMALIZER_VARIANTS[variant]))
    ours, hf = Tokenizer.from_file(path), hf_from_file(path)
    pairs = random_pairs(seed=sorted(NORMALIZER_VARIANTS).index(variant), count=1500)
    assert_texts_match(ours, hf, [q for q, _ in pairs] + [d for _, d in pairs])
    assert_pairs_match(ours, hf, pairs, 64, "longest_first")


def test_added_token_options_match_hf(tmp_path):
    extra = [
        dict(id=30522, content="<mark>", single_word=False, lstrip=True, rstrip=False, normalized=False, special=True),
        dict(id=30523, content="</mark>", single_word=False, lstrip=False, rstrip=True, normalized=False, special=True),
        dict(id=30524, content="foo", single_word=True, lstrip=False, rstrip=False, normalized=False, special=False),
        dict(id=30525, content="Über", single_word=False, lstrip=False, rstrip=False, normalized=True, special=False),
        dict(id=30526, content="[SEP]x", single_word=False, lstrip=True, rstrip=True, normalized=False, special=True),
        dict(id=30527, content="bar", single_word=True, lstrip=True, rstrip=True, normalized=True, special=False),
    ]
    path = tokenizer_variant(tmp_path, "added", lambda c: c["added_tokens"].extend(extra))
    ours, hf = Tokenizer.from_file(path), hf_from_file(path)
    rng = random.Random(7)
    bits = ["<mark>", "</mark>", "foo", "über", "ÜBER", "Über", "uber", "[SEP]x", "[SEP]", "bar", "BAR", "foobar",
            " ", "  ", "\t", "\u3000", "a", "é", "1", "_", "-", "x", "中", "\u0301"]
    texts = ["".join(rng.choice(bits) for _ in range(rng.randrange(12))) for _ in range(3000)]
    texts += ["foo", "a foo b", "afoo", "foo1", "_foo_", "é foo", "<mark>   x", "x   <mark>", "x </mark>  y",
              "[SEP]x y", "bar", "Bar!", "xbar", "x BAR y"]
    assert_texts_match(ours, hf, texts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_property_any_text_matches_hf(minilm, hf_minilm, text):
    hf_minilm.no_truncation()
    assert minilm.encode(text) == hf_minilm.encode(text, add_special_tokens=False).ids


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
       st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
       st.sampled_from((4, 5, 8, 16, 64)), st.sampled_from(STRATEGIES))
def test_property_pairs_match_hf(minilm, hf_minilm, query, doc, max_length, strategy):
    assert_pairs_match(minilm, hf_minilm, [(query, doc)], max_length, strategy)


# --------------------------------------------------------------------------------------------
# Truncation flags and API
# --------------------------------------------------------------------------------------------


def test_truncation_flags(minilm):
    q = "alpha beta gamma"  # 3 tokens
    doc = " ".join(["word"] * 20)
    (enc,) = minilm.encode_pairs([(q, doc)], max_length=512)
    assert isinstance(enc, Encoding)
    assert not enc.truncated and not enc.query_truncated and len(enc.ids) == 26
    assert enc.type_ids == [0] * 5 + [1] * 21
    (enc,) = minilm.encode_pairs([(q, doc)], max_length=10)
    assert enc.truncated and not enc.query_truncated
    assert enc.ids[:5] == [101] + minilm.encode(q) + [102] and len(enc.ids) == 10
    # Query of 3 tokens with a budget of 3: no room for the document -> longest_first fallback.
    (enc,) = minilm.encode_pairs([(q, doc)], max_length=6)
    assert enc.truncated and enc.query_truncated and len(enc.ids) == 6
    (enc,) = minilm.encode_pairs([(q, "")], max_length=6)
    assert not enc.truncated and enc.ids == [101] + minilm.encode(q) + [102, 102]
    (enc,) = minilm.encode_pairs([(q, doc)], max_length=10, truncation="longest_first")
    assert enc.truncated and not enc.query_truncated
    (enc,) = minilm.encode_pairs([("", "")], max_length=4)
    assert enc.ids == [101, 102, 102] and enc.type_ids == [0, 0, 1]


def test_huge_text_matches_hf(minilm, hf_minilm):
    rng = random.Random(99)
    text = random_text(rng, 400) * 800  # > 1M code points: per-thread buffers are released after use
    assert len(text) > 1 << 20
    hf_minilm.no_truncation()
    assert minilm.encode(text) == hf_minilm.encode(text, add_special_tokens=False).ids
    assert minilm.encode("short text") == [2460, 3793]


def test_encode_and_native(minilm):
    assert minilm.encode("") == []
    assert minilm.encode("Hello, world!") == [7592, 1010, 2088, 999]
    assert minilm.native.encode("[SEP]") == [102]
    assert minilm.pad_id == 0
    assert minilm.encode_pairs([]) == []


def test_input_errors(minilm):
    with pytest.raises(TypeError, match="pair 1"):
        minilm.encode_pairs([("a", "b"), ("a", None)])
    with pytest.raises(TypeError, match="pair 0"):
        minilm.encode_pairs([(3, "b")])
    with pytest.raises(TypeError):
        minilm.encode(None)
    with pytest.raises(TypeError):
        minilm.encode_pairs("ab")
    with pytest.raises(ValueError, match="pair 2: document"):
        minilm.encode_pairs([("a", "b"), ("a", "b"), ("a", "x\ud800y")])
    with pytest.raises(ValueError, match="pair 0: query"):
        minilm.encode_pairs([("\udfff", "b")])
    with pytest.raises(ValueError):
        minilm.encode("\ud83d")
    with pytest.raises(ValueError, match="truncation"):
        minilm.encode_pairs([("a", "b")], truncation="only_first")
    with pytest.raises(ValueError, match="max_length"):
        minilm.encode_pairs([("a", "b")], max_length=3)
    with pytest.raises(ValueError):
        minilm.native.encode_pairs(["a"], ["b"], 3, "only_second")
    with pytest.raises(ValueError, match="differ in length"):
        minilm.native.encode_pairs(["a"], ["b", "c"], 16, "only_second")
    with pytest.raises(TypeError, match="query 0"):
        minilm.native.encode_pairs([None], ["b"], 16, "only_second")
