"""Byte-level BPE variants beyond ModernBERT's file: RoBERTa's template and prefix space, the BPE
model's options (ignore_merges, unk and fuse_unk, continuing-subword prefix and end-of-word suffix,
no regex), merge ranks (ties, repeated merges), and two tokenizers sharing a thread."""

from __future__ import annotations

import json

import pytest
from bpe_cases import (
    REGEX_CASES,
    modernbert_like,
    roberta_like,
    tiny_bpe,
    train_byte_level_bpe,
    training_corpus,
    varied_pairs,
    write_json,
)
from tokenizer_cases import STRATEGIES, assert_pairs_match, assert_texts_match, hf_from_file

from crossrank.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def base_bpe() -> dict:
    return train_byte_level_bpe(vocab_size=3000)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    return varied_pairs(seed=77, count=2000, doc_pieces=(0, 3, 30))


def _both(tmp_path, name: str, config: dict):
    path = write_json(tmp_path, name, config)
    return Tokenizer.from_file(path), hf_from_file(path)


def _check(ours, hf, pairs, max_lengths=(6, 64)):
    texts = REGEX_CASES + [q for q, _ in pairs] + [d for _, d in pairs]
    assert_texts_match(ours, hf, texts)
    for max_length in max_lengths:
        for strategy in STRATEGIES:
            assert_pairs_match(ours, hf, pairs[:500] if max_length < 8 else pairs, max_length, strategy)


@pytest.mark.parametrize("add_prefix_space", (False, True))
def test_roberta_template_and_prefix_space(tmp_path, base_bpe, pairs, add_prefix_space):
    ours, hf = _both(tmp_path, "roberta", roberta_like(base_bpe, add_prefix_space))
    _check(ours, hf, pairs)
    (enc,) = ours.encode_pairs([("a", "b")], max_length=16)
    assert len(enc.ids) == 4 + len(ours.encode("a")) + len(ours.encode("b")) and set(enc.type_ids) == {0}


def test_ignore_merges(tmp_path, base_bpe, pairs):
    config = modernbert_like(base_bpe)
    config["model"]["ignore_merges"] = True
    # Tokens the merges would not build whole: ignore_merges emits them for a piece that equals one.
    vocab = config["model"]["vocab"]
    for token in ("Ġzzzq", "qqqq", "Ġ12345"):
        vocab.setdefault(token, max(vocab.values()) + 1)
    for t in config["added_tokens"]:
        t["id"] += 3
    ours, hf = _both(tmp_path, "ignore_merges", config)
    _check(ours, hf, pairs + [(" zzzq qqqq", " 12345 zzzq")])
    assert ours.encode(" zzzq") == [vocab["Ġzzzq"]]


@pytest.mark.parametrize("fuse_unk", (False, True))
def test_unk_for_bytes_without_symbol(tmp_path, pairs, fuse_unk):
    """A BPE trained without the byte alphabet lacks most non-ASCII bytes: they become [UNK]."""
    from tokenizers import Tokenizer as HfTokenizer
    from tokenizers import models, pre_tokenizers, trainers

    tok = HfTokenizer(models.BPE(unk_token="[UNK]", fuse_unk=fuse_unk))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]"], show_progress=False)
    tok.train_from_iterator([t for t in training_corpus() if t.isascii()], trainer=trainer)
    config = modernbert_like(json.loads(tok.to_str()), None)
    ours, hf = _both(tmp_path, "unk", config)
    _check(ours, hf, pairs)
    assert config["model"]["vocab"]["[UNK]"] in ours.encode("é")


def test_missing_byte_without_unk_is_refused(tmp_path, base_bpe):
    config = modernbert_like(base_bpe)
    del config["model"]["vocab"]["Ã"]  # byte 0xC3, the lead byte of é
    config["model"]["merges"] = [m for m in config["model"]["merges"] if "Ã" not in "".join(m)]
    with pytest.raises(ValueError, match="no symbol for byte 0xC3.*no unk token"):
        Tokenizer.from_file(write_json(tmp_path, "missing", config))


def test_prefix_and_suffix(tmp_path, pairs):
    from tokenizers import Tokenizer as HfTokenizer
    from tokenizers import models, pre_tokenizers, trainers

    # The prefixed / suffixed forms of unseen bytes are not in the vocab: they need an unk token.
    tok = HfTokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=3000, show_progress=False, continuing_subword_prefix="##",
                                  special_tokens=["[UNK]"],
                                  end_of_word_suffix="</w>", initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    ours, hf = _both(tmp_path, "affixes", modernbert_like(json.loads(tok.to_str())))
    _check(ours, hf, pairs)


def test_without_regex(tmp_path, base_bpe, pairs):
    config = modernbert_like(base_bpe)
    config["pre_tokenizer"]["use_regex"] = False
    ours, hf = _both(tmp_path, "no_regex", config)
    _check(ours, hf, [(q[:200], d[:200]) for q, d in pairs[:300]], max_lengths=(64,))


def test_merge_ranks_ties_and_repeats(tmp_path):
    """Lowest rank first; among equal ranks the leftmost pair; a merge listed twice keeps its last rank."""
    merges = [("a", "a"), ("b", "c"), ("a", "b"), ("ab", "c"), ("a", "bc"), ("c", "d"), ("x", "y"), ("y", "z"),
              ("x", "y")]
    vocab = ["aa", "bc", "ab", "abc", "cd", "xy", "yz"]
    config = tiny_bpe(vocab, merges)
    ours, hf = _both(tmp_path, "ties", config)
    texts = ["aaa", "aaaa", "aaaaa", "abc", "abcd", "aabc", "abcabc", "xyz", "xyzxyz", "xxyyzz", "aaabcd"]
    assert_texts_match(ours, hf, texts)
    ids = config["model"]["vocab"]
    assert ours.encode("aaa") == [ids["aa"], ids["a"]]  # the leftmost of two equal-rank pairs
    assert ours.encode("xyz") == [ids["x"], ids["yz"]]  # ("x", "y") now ranks after ("y", "z")


def test_two_tokenizers_on_one_thread_do_not_share_cached_words(tmp_path, base_bpe):
    big, _ = _both(tmp_path, "big", modernbert_like(base_bpe))
    tiny, tiny_hf = _both(tmp_path, "tiny", tiny_bpe(["he", "ll", "hell", "hello"],
                                                       [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o")]))
    for _ in range(3):
        a, b = big.encode("hello world"), tiny.encode("hello world")
        assert b == tiny_hf.encode("hello world", add_special_tokens=False).ids and a != b


def test_threads_share_one_tokenizer(tmp_path, base_bpe, pairs):
    """The engine calls one tokenizer from several threads (GIL released): per-thread buffers and caches."""
    from concurrent.futures import ThreadPoolExecutor

    ours, _ = _both(tmp_path, "threads", modernbert_like(base_bpe))
    expected = ours.encode_pairs(pairs, max_length=64)
    chunks = [pairs[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda chunk: ours.encode_pairs(chunk, max_length=64), chunks * 3))
    for i, got in enumerate(results):
        assert got == expected[i % 4::4]
