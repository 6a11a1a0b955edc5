"""Tokenizer.from_file on byte-level BPE tokenizer.json files: what is read (merges in both
spellings, pad id, largest id, encode_prefix), and the errors that name an unsupported component
or a bad field."""

from __future__ import annotations

import copy

import pytest
from bpe_cases import modernbert_like, tiny_bpe, train_byte_level_bpe, write_json
from tokenizer_cases import assert_texts_match, hf_from_file

from crossrank import _native
from crossrank.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def config() -> dict:
    return modernbert_like(train_byte_level_bpe(vocab_size=2000))


def test_reads_modernbert_structure(tmp_path, config):
    tok = Tokenizer.from_file(write_json(tmp_path, "mb", config))
    ids = {t["content"]: t["id"] for t in config["added_tokens"]}
    assert tok.pad_id == ids["[PAD]"]
    assert tok.max_token_id == max(ids.values())
    assert tok.native.prefix == [ids["[CLS]"]] and tok.native.suffix == [ids["[SEP]"]]
    assert tok.native.id_limit == tok.max_token_id + 1
    assert tok.encode("a [MASK]") == tok.encode("a") + [ids["[MASK]"]]  # lstrip swallows the space


def test_merges_as_strings(tmp_path, config):
    """Older files (GPT-2, RoBERTa) spell each merge "left right"."""
    legacy = copy.deepcopy(config)
    legacy["model"]["merges"] = [" ".join(m) for m in config["model"]["merges"]]
    path = write_json(tmp_path, "legacy", legacy)
    texts = ["Hello world, it's 2024!", "naïve café 東京", "  spaces\n\nand lines "]
    assert_texts_match(Tokenizer.from_file(path), hf_from_file(path), texts)
    assert Tokenizer.from_file(path).encode(texts[0]) == Tokenizer.from_dict(config).encode(texts[0])


def test_encode_prefix_is_the_start_of_encode(tmp_path, config):
    tok = Tokenizer.from_file(write_json(tmp_path, "mb", config))
    text = "The quick brown fox jumps over the lazy dog. " * 50 + "東京 [MASK] |||IP_ADDRESS|||"
    full = tok.encode(text)
    for max_tokens in (0, 1, 7, 100, len(full) - 1, len(full), len(full) + 5):
        ids, cut = _native.testing.encode_prefix(tok.native, text, max_tokens)
        assert ids == full[:max_tokens] and cut == (len(full) > max_tokens)


def test_tokenized_bytes_counts_what_bpe_reads(tmp_path, config):
    """Every byte, for encode and for encode_prefix alike: BPE normalizes and splits the whole text
    (only the merging stops early)."""
    tok = Tokenizer.from_file(write_json(tmp_path, "mb", config))
    text = "naïve café 東京 [MASK] x " * 40
    for encode in (tok.encode, lambda t: _native.testing.encode_prefix(tok.native, t, 5)):
        before = _native.testing.tokenized_bytes()
        encode(text)
        assert _native.testing.tokenized_bytes() - before == len(text.encode("utf-8"))


def _edit(path_edit):
    def apply(c):
        node = c
        *keys, last = path_edit[0]
        for key in keys:
            node = node[key]
        node[last] = path_edit[1]
    return apply


@pytest.mark.parametrize("where, value, message", [
    (("normalizer",), {"type": "NFKC"}, "normalizer is NFKC"),
    (("normalizer",), {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
     r"normalizer.normalizers\[1\] is"),
    (("pre_tokenizer",), {"type": "Metaspace"}, "pre_tokenizer is Metaspace"),
    (("pre_tokenizer",), {"type": "Sequence", "pretokenizers": []}, "pre_tokenizer is Sequence"),
    (("pre_tokenizer",), None, "pre_tokenizer is null"),
    (("pre_tokenizer", "add_prefix_space"), "no", "pre_tokenizer.add_prefix_space must be true or false"),
    (("model", "dropout"), 0.1, "model.dropout is 0.1"),
    (("model", "unk_token"), 5, "model.unk_token must be a string or null"),
    (("model", "fuse_unk"), "yes", "model.fuse_unk must be true or false"),
    (("model", "merges"), [["a", "b", "c"]], r"model.merges\[0\] must be two tokens"),
    (("model", "merges"), ["a b c"], r"model.merges\[0\] must be two tokens"),
    (("model", "merges"), [["Ġ", "zzzzq"]], r"merge 0 \('Ġ' 'zzzzq'\): 'zzzzq' is not in the vocab"),
    (("model", "vocab", "Ġ"), -1, r"model.vocab\['Ġ'\] must be"),
    (("post_processor",), {"type": "ByteLevel", "trim_offsets": True}, "post_processor is ByteLevel"),
    (("post_processor",), None, "post_processor is null"),
])
def test_unsupported_or_bad_fields_are_named(config, where, value, message):
    bad = copy.deepcopy(config)
    _edit((where, value))(bad)
    with pytest.raises(ValueError, match=f"^tokenizer.json: .*{message}"):
        Tokenizer.from_dict(bad)


def test_byte_fallback_only_where_it_never_applies(config):
    fallback = copy.deepcopy(config)
    fallback["model"]["byte_fallback"] = True
    assert Tokenizer.from_dict(fallback).encode("é") == Tokenizer.from_dict(config).encode("é")
    tiny = tiny_bpe([], [], byte_fallback=True, unk_token=None)
    del tiny["model"]["vocab"]["Ã"]
    with pytest.raises(ValueError, match="byte_fallback is set and the vocab has no symbol for byte 0xC3"):
        Tokenizer.from_dict(tiny)


def test_other_models_still_name_what_is_read():
    with pytest.raises(ValueError, match="model.type is WordLevel.*WordPiece.*Unigram.*BPE"):
        Tokenizer.from_dict({"model": {"type": "WordLevel"}})
