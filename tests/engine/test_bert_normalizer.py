"""The C++ BertNormalizer alone (crossrank._native.testing.bert_normalize) against Hugging Face's."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_cases import tokenizers

# --------------------------------------------------------------------------------------------
# The normalizer alone (ids cannot see e.g. the order of marks inside an [UNK] word)
# --------------------------------------------------------------------------------------------

NORMALIZER_FLAGS = [dict(clean_text=c, handle_chinese_chars=h, strip_accents=s, lowercase=lo)
                    for c in (True, False) for h in (True, False) for s in (True, False) for lo in (True, False)]


def _hf_normalizer(flags):
    return tokenizers.normalizers.BertNormalizer(**flags)


def test_normalizer_canonical_reordering():
    from crossrank import _native

    # Marks that survive strip_accents (Mc with ccc != 0) are reordered by NFD across the whole
    # text, and an Mn mark of ccc 0 (U+0E31) splits the reordering run before it is dropped.
    texts = ["x\U0001d16d\U0001d165", "x\U0001d16d\u0f39\U0001d165", "x\U0001d16d\u0301\U0001d165",
             "x\U0001d16d\u0e31\U0001d165", "\u1e0b\u0323\U0001d16d\U0001d166", "\uac00\U0001d16d\U0001d165"]
    for flags in NORMALIZER_FLAGS:
        hf = _hf_normalizer(flags)
        for text in texts:
            assert _native.testing.bert_normalize(text, **flags) == hf.normalize_str(text), (text, flags)


def test_normalizer_matches_hf_on_all_code_points_in_context():
    from crossrank import _native

    rng = random.Random(11)
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    rng.shuffle(cps)
    chunks = ["Ab" + "".join(chr(cp) for cp in cps[i:i + 64]) + "\u0301é" for i in range(0, len(cps), 64)]
    for flags in (NORMALIZER_FLAGS[0], NORMALIZER_FLAGS[5], NORMALIZER_FLAGS[-1]):
        hf = _hf_normalizer(flags)
        for text in chunks:
            assert _native.testing.bert_normalize(text, **flags) == hf.normalize_str(text), (text, flags)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), st.sampled_from(NORMALIZER_FLAGS))
def test_property_normalizer_matches_hf(text, flags):
    from crossrank import _native

    assert _native.testing.bert_normalize(text, **flags) == _hf_normalizer(flags).normalize_str(text)
