"""The Unigram tokenizer's quirks, each checked against Hugging Face `tokenizers`: the charsmap applied per
grapheme cluster (the rest of a short cluster dropped), runs of spaces, leading and trailing spaces,
empty texts, <mask>'s lstrip, fused unknowns, byte fallback, encode_prefix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from unigram_cases import hf_from_file, multilingual_pairs, tokenizers

from crossrank import _native
from crossrank.tokenizer import Tokenizer
from crossrank.tokenizer._serde_float import serde_json_f64

# Short clusters (< 6 bytes) whose first code point is in the charsmap: tokenizers replaces the whole
# cluster by that code point's replacement; longer clusters go code point by code point.
CLUSTERS = ["x\u00a0\u0301y", "\u00a0\u0301", "\u00a0\u0301\u0302", "ｶﾞ", "ｶ\u3099", "①\u0301", "ﬁ\u0301",
            "Ａ\u0301", "Ａ\u0301\u0302", "e\u0301\u0302\u0303\u0304", "\U0001d400\u0301", "\u2126\u0301",
            "\U0001f1fa\U0001f1f8\U0001f1fa", "क्\u200dष", "क्ष", "\u1100\u1161\u11a8", "\r\n", "\u0600a",
            "\U0001f468\u200d\U0001f469", "\u3000\u0301", "\u2028\u0301"]
SPACES = ["", " ", "  ", "   ", "a  b", "a     b", " a", "  a", "a ", "a  ", " a b ", "\u3000a\u3000", "\ta\t",
          "a\u00a0\u00a0b", "\u2581", "\u2581a", "a\u2581\u2581b", " \u2581 ", "\n", "\u200b"]
MASKS = ["<mask>", "a <mask> b", "a<mask>b", "a   <mask>", "<mask> b", "<mask><mask>", " <mask>", "<s><mask></s>",
         "<pad> <unk>", "＜mask＞", "<MASK>", "a <s> b </s>", "</s></s>"]


@pytest.fixture(scope="module")
def small(xlmr_json):
    return Tokenizer.from_file(xlmr_json), hf_from_file(xlmr_json)


def _same(pair, texts):
    ours, hf = pair
    for text in texts:
        assert ours.encode(text) == hf.encode(text, add_special_tokens=False).ids, repr(text)


def test_grapheme_clusters_and_charsmap(small):
    _same(small, CLUSTERS)
    ours, _ = small
    # The quirk itself: NBSP (charsmap: a space) takes the combining accent of its cluster with it.
    assert ours.encode("x\u00a0\u0301y") == ours.encode("x y")


def test_spaces_and_empty_texts(small):
    _same(small, SPACES)
    ours, _ = small
    assert ours.encode("") == [] and ours.encode("   ") == []
    (enc,) = ours.encode_pairs([("", "")], max_length=8)
    assert enc.ids == [0, 2, 2, 2] and enc.type_ids == [0, 0, 0, 0]


def test_added_tokens_and_mask_lstrip(small):
    _same(small, MASKS)
    ours, _ = small
    mask = ours.encode("<mask>")
    # lstrip takes the space before <mask>; a run of spaces is already one "▁" (normalized=true token).
    assert len(mask) == 1 and ours.encode("a <mask>") == ours.encode("a") + mask
    assert ours.encode("a   <mask>") == ours.encode("a") + [4] + mask  # 4: the piece "\u2581"


def _unknown_chars(hf, unk_id: int) -> list[str]:
    candidates = [chr(c) for c in (0x2A6DF, 0x30000, 0x2B820, 0x1F9FF, 0x1FA80, 0xE000, 0x10FFFD, 0x16AF0, 0x1E944)]
    return [c for c in candidates if hf.encode(c, add_special_tokens=False).ids.count(unk_id) == 1]


def test_unknowns_fuse(small):
    ours, hf = small
    unknown = _unknown_chars(hf, 3)
    assert len(unknown) >= 2
    text = "a" + "".join(unknown) + " b " + unknown[0]
    ids = ours.encode(text)
    assert ids == hf.encode(text, add_special_tokens=False).ids
    assert ids.count(3) == 2  # the run of unknowns is one <unk>


def test_byte_fallback(xlmr_bf_json):
    ours, hf = Tokenizer.from_file(xlmr_bf_json), hf_from_file(xlmr_bf_json)
    byte_ids = {hf.token_to_id(f"<0x{b:02X}>") for b in range(256)}
    assert None not in byte_ids
    spelled = [chr(c) for c in range(0x10000, 0x10400)  # Linear B and others: no piece, so bytes
               if sum(i in byte_ids for i in hf.encode(chr(c), add_special_tokens=False).ids) == 4]
    assert len(spelled) >= 2
    text = "x" + spelled[0] + spelled[1] + " y " + spelled[-1]
    ids = ours.encode(text)
    assert ids == hf.encode(text, add_special_tokens=False).ids
    assert sum(i in byte_ids for i in ids) == 12 and 3 not in ids  # three 4-byte characters as bytes


@pytest.mark.parametrize("fixture", ("xlmr_json", "xlmr_250k_json"))
def test_encode_prefix_equals_encode_cut(request, fixture):
    ours = Tokenizer.from_file(request.getfixturevalue(fixture))
    texts = [d for _, d in multilingual_pairs(seed=5, count=300, doc_pieces=(3, 40, 150))]
    texts += ["word " * 3000, "a b " * 2000 + "<mask> c", ("lorem ipsum " * 500).strip()]
    for text in texts:
        full = ours.encode(text)
        for limit in sorted({0, 1, 7, 100, 511, len(full) - 1, len(full), len(full) + 1}):
            if limit >= 0:
                ids, cut = _native.testing.encode_prefix(ours.native, text, limit)
                assert ids == full[:limit] and cut == (len(full) > limit), (text[:40], limit)


def test_scores_are_read_to_the_bit_as_tokenizers_reads_them(xlmr_path):
    """serde_json's parse (tokenizers') leaves the last bit of about a quarter of the scores off Python's;
    serde_json_f64 gives tokenizers' value for every score (its round trip writes what it holds)."""
    vocab = json.loads(Path(xlmr_path).read_text(encoding="utf-8"))["model"]["vocab"]
    held = json.loads(tokenizers.Tokenizer.from_file(xlmr_path).to_str())["model"]["vocab"]
    assert sum(ours[1] != theirs[1] for ours, theirs in zip(vocab, held)) > len(vocab) // 10  # the check can fail
    assert [serde_json_f64(score) for _, score in vocab] == [score for _, score in held]


def test_a_tie_between_segmentations_goes_as_in_tokenizers(xlmr_json):
    """"b" + "bb" and "bb" + "b" tie under Python's parse of the scores after "中", not under tokenizers'."""
    ours, hf = Tokenizer.from_file(xlmr_json), hf_from_file(xlmr_json)
    for text in ("中bbb", "x 中bbb y", "bbb"):
        assert ours.encode(text) == hf.encode(text, add_special_tokens=False).ids, text


def test_tokenized_bytes_counts_what_unigram_reads(xlmr_json):
    """encode reads every byte; encode_prefix of a 10 MB text only about what its 4,096 tokens take."""
    ours = Tokenizer.from_file(xlmr_json)
    text = "naïve café 東京 <mask>  x " * 40
    before = _native.testing.tokenized_bytes()
    ours.encode(text)
    assert _native.testing.tokenized_bytes() - before == len(text.encode("utf-8"))
    huge = ("lorem ipsum dolor sit amet consectetur " * 270_000)[:10_000_000]
    before = _native.testing.tokenized_bytes()
    ids, cut = _native.testing.encode_prefix(ours.native, huge, 4096)
    read = _native.testing.tokenized_bytes() - before
    assert cut and len(ids) == 4096
    assert 4096 * 4 < read < 4096 * 6 * 2


def test_models_in_one_thread_keep_their_own_cache(xlmr_json, xlmr_bf_json):
    """Each thread caches the ids of recent words per model: two tokenizers used in turn must each
    get their own ids (the fixtures' vocabularies differ, so a shared entry would show)."""
    pairs = [(Tokenizer.from_file(p), hf_from_file(p)) for p in (xlmr_json, xlmr_bf_json)]
    texts = [q for q, _ in multilingual_pairs(seed=8, count=300)]
    for text in texts:
        for ours, hf in pairs:
            assert ours.encode(text) == hf.encode(text, add_special_tokens=False).ids, repr(text)
