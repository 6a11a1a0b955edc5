"""Byte-level BPE (ModernBERT's tokenizer.json structure): ids and type ids identical to Hugging
Face `tokenizers` on single texts and on pairs with both truncations at several max_lengths,
normalizer NFC or none, plus hypothesis and targeted cases."""

from __future__ import annotations

import random

import pytest
from bpe_cases import (
    REGEX_CASES,
    modernbert_like,
    train_byte_level_bpe,
    varied_pairs,
    write_json,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizer_cases import STRATEGIES, assert_pairs_match, assert_texts_match, hf_from_file, random_text

from crossrank.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def base_bpe() -> dict:
    return train_byte_level_bpe()


@pytest.fixture(scope="module", params=["NFC", None], ids=["nfc", "no-normalizer"])
def modernbert(request, base_bpe, tmp_path_factory):
    """(ours, hf) for ModernBERT's structure around the trained BPE."""
    path = write_json(tmp_path_factory.mktemp("bpe"), "modernbert", modernbert_like(base_bpe, request.param))
    return Tokenizer.from_file(path), hf_from_file(path)


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    """10,000 multilingual pairs; documents up to ~110 pieces (several hundred tokens)."""
    return varied_pairs(seed=2024, count=10_000)


@pytest.fixture(scope="module")
def short_corpus() -> list[tuple[str, str]]:
    return varied_pairs(seed=4202, count=3_000, doc_pieces=(0, 2, 6, 12))


def test_single_texts_match_hf(modernbert, corpus):
    ours, hf = modernbert
    texts = REGEX_CASES + [q for q, _ in corpus] + [d for _, d in corpus]
    assert len(texts) == len(REGEX_CASES) + 20_000
    assert_texts_match(ours, hf, texts)


@pytest.mark.parametrize("max_length", (128, 512))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pairs_match_hf(modernbert, corpus, max_length, strategy):
    ours, hf = modernbert
    assert assert_pairs_match(ours, hf, corpus, max_length, strategy) == 10_000


@pytest.mark.parametrize("max_length", (4, 5, 8, 32))
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_short_pairs_match_hf(modernbert, short_corpus, max_length, strategy):
    ours, hf = modernbert
    pairs = short_corpus[:400] if max_length < 8 else short_corpus  # HF's overflow windows: slow
    assert assert_pairs_match(ours, hf, pairs, max_length, strategy) == len(pairs)


def test_fallback_and_type_ids(modernbert, short_corpus):
    ours, _ = modernbert
    encs = ours.encode_pairs(short_corpus, max_length=8, truncation="only_second")
    assert any(e.query_truncated for e in encs)
    assert any(e.truncated and not e.query_truncated for e in encs)
    assert any(not e.truncated for e in encs)
    (enc,) = ours.encode_pairs([("", "")], max_length=4)
    assert enc.type_ids == [0, 0, 1] and len(set(enc.ids)) == 2


def test_random_code_points_match_hf(modernbert):
    """Every class of the regex and NFC's compositions, over the whole code space."""
    ours, hf = modernbert
    rng = random.Random(11)

    def cp() -> str:
        while True:
            c = rng.choice((rng.randrange(0x20, 0x80), rng.randrange(0x80, 0x800), rng.randrange(0x300, 0x370),
                            rng.randrange(0x800, 0x10000), rng.randrange(0x10000, 0x110000),
                            rng.randrange(0x1100, 0x1200), rng.randrange(0xAC00, 0xD7A4)))
            if not 0xD800 <= c <= 0xDFFF:
                return chr(c)

    texts = ["".join(cp() for _ in range(rng.randrange(1, 16))) for _ in range(20_000)]
    texts += [chr(c) for c in range(0, 0x3400) if not 0xD800 <= c <= 0xDFFF]
    assert_texts_match(ours, hf, texts)


@pytest.mark.parametrize("text", [
    "it's we've they're I'm you'll he'd don't 'S 'T 's's", "x 's", "''s", "1,234.5 ½ Ⅻ ٣", "a  \n\n  b",
    "a \n\tb", "  x", "x  ", "\n\n", " " * 50, "x\u00a0 y\u3000\u3000z", "👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽", "e\u0301\u0323 Å Å",
    "[MASK]", "a [MASK]", "a  \n [MASK] b", "[MASK][MASK]", "|||IP_ADDRESS|||x", "x|||PHONE_NUMBER|||",
    "[unused1][unused2] [CLS][SEP]", "<|endoftext|> <|padding|>", "",
])
def test_targeted_texts_match_hf(modernbert, text):
    ours, hf = modernbert
    assert_texts_match(ours, hf, [text, text + text, " " + text, text + "\n"])


def test_huge_text_matches_hf(modernbert):
    ours, hf = modernbert
    text = random_text(random.Random(5), 400) * 600  # > 1M code points: buffers are released after use
    assert len(text) > 1 << 20
    word = "".join(random.Random(6).choice("abcdefghé东") for _ in range(200_000))  # one piece, 200k symbols
    assert_texts_match(ours, hf, [text, "short text", word, "short text"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_property_any_text_matches_hf(modernbert, text):
    ours, hf = modernbert
    assert ours.encode(text) == hf.encode(text, add_special_tokens=False).ids


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
       st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
       st.sampled_from((4, 5, 8, 16, 64)), st.sampled_from(STRATEGIES))
def test_property_pairs_match_hf(modernbert, query, doc, max_length, strategy):
    ours, hf = modernbert
    assert_pairs_match(ours, hf, [(query, doc)], max_length, strategy)


def test_input_errors(modernbert):
    ours, _ = modernbert
    with pytest.raises(TypeError, match="pair 1"):
        ours.encode_pairs([("a", "b"), ("a", None)])
    with pytest.raises(ValueError, match="pair 2: document"):
        ours.encode_pairs([("a", "b"), ("a", "b"), ("a", "x\ud800y")])
    with pytest.raises(ValueError, match="pair 0: query"):
        ours.encode_pairs([("\udfff", "b")])
    with pytest.raises(ValueError):
        ours.encode("\ud83d")
    with pytest.raises(TypeError):
        ours.encode(None)
    with pytest.raises(ValueError, match="max_length"):
        ours.encode_pairs([("a", "b")], max_length=3)
