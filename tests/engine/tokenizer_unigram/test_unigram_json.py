"""Reading Unigram tokenizer.json files: the forms real XLM-R files take (older converters' single
Precompiled normalizer, Metaspace's add_prefix_space, RobertaProcessing), the Metaspace options, and
the errors for what crossrank does not read, each naming the component."""

from __future__ import annotations

import base64
import json

import pytest
from unigram_cases import assert_pairs_match, assert_texts_match, hf_from_file, multilingual_pairs

from crossrank.tokenizer import Tokenizer


def _variant(path: str, tmp_path, edit) -> str:
    config = json.loads(open(path, encoding="utf-8").read())
    edit(config)
    out = tmp_path / "tokenizer.json"
    out.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return str(out)


def _legacy(config):  # as the Hub's xlm-roberta-base tokenizer.json has it
    config["normalizer"] = config["normalizer"]["normalizers"][0]
    config["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    config["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                "trim_offsets": True, "add_prefix_space": True}


def _quotes(config):  # the Albert / XLNet converters' Replace steps, and a Strip on both sides
    config["normalizer"]["normalizers"][:0] = [
        {"type": "Replace", "pattern": {"String": "``"}, "content": '"'},
        {"type": "Replace", "pattern": {"String": "''"}, "content": '"'},
        {"type": "Strip", "strip_left": True, "strip_right": True}]


VARIANTS = {
    "legacy": _legacy,
    "quotes": _quotes,
    "first": lambda c: c["pre_tokenizer"].update(prepend_scheme="first"),
    "never": lambda c: c["pre_tokenizer"].update(prepend_scheme="never"),
    "no_split": lambda c: c["pre_tokenizer"].update(split=False),
    "sequence": lambda c: c.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [c["pre_tokenizer"]]}),
    "no_normalizer": lambda c: c.update(normalizer=None),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_match_hf(xlmr_json, tmp_path, variant):
    path = _variant(xlmr_json, tmp_path, VARIANTS[variant])
    ours, hf = Tokenizer.from_file(path), hf_from_file(path)
    pairs = multilingual_pairs(seed=sorted(VARIANTS).index(variant), count=1500)
    pairs += [("a ``b'' c", "<mask> x <mask>"), ("  lead", "trail  "), ("", "<s>q</s>")]
    assert_texts_match(ours, hf, [q for q, _ in pairs] + [d for _, d in pairs])
    for strategy in ("only_second", "longest_first"):
        assert_pairs_match(ours, hf, pairs, 48, strategy)


UNSUPPORTED = {
    "nfkc": (lambda c: c["normalizer"]["normalizers"].insert(1, {"type": "NFKC"}),
             "normalizer Sequence item 1 is NFKC"),
    "lowercase": (lambda c: c.update(normalizer={"type": "Lowercase"}), "normalizer is Lowercase"),
    "regex": (lambda c: c["normalizer"]["normalizers"][2].update(pattern={"Regex": "\\s+"}),
              "normalizer Sequence item 2 (Replace) pattern is"),
    "whitespace_split": (lambda c: c.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, c["pre_tokenizer"]]}), "pre_tokenizer is [\"WhitespaceSplit\", \"Metaspace\"]"),
    "byte_level": (lambda c: c.update(pre_tokenizer={"type": "ByteLevel"}), "pre_tokenizer is ByteLevel"),
    "vocab_entry": (lambda c: c["model"]["vocab"].__setitem__(5, ["x"]), "model.vocab[5] must be [piece, score]"),
    "unk_id": (lambda c: c["model"].update(unk_id=10**6), "model.unk_id"),
    "charsmap_base64": (lambda c: c["normalizer"]["normalizers"][0].update(precompiled_charsmap="@@"),
                        "precompiled_charsmap is not base64"),
    "charsmap_size": (lambda c: c["normalizer"]["normalizers"][0].update(
        precompiled_charsmap=base64.b64encode(b"\xff\xff\x00\x00abcd").decode()), "precompiled_charsmap: trie size"),
    "scheme": (lambda c: c["pre_tokenizer"].update(prepend_scheme="sometimes"), "prepend_scheme must be one of"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_components_are_named(xlmr_json, tmp_path, name):
    edit, message = UNSUPPORTED[name]
    with pytest.raises(ValueError, match=f"tokenizer.json.*{__import__('re').escape(message)}"):
        Tokenizer.from_file(_variant(xlmr_json, tmp_path, edit))


def test_from_file_reads_a_unigram_file(xlmr_json):
    tok = Tokenizer.from_file(xlmr_json)
    assert tok.algorithm == "Unigram" and tok.special_count == 4 and tok.pad_id == 1
    assert tok.native.prefix == [0] and tok.native.middle == [2, 2] and tok.native.suffix == [2]
    assert tok.max_token_id == tok.native.id_limit - 1 == tok.native.vocab_size - 1


def test_bad_input_fails_clearly(xlmr_json):
    tok = Tokenizer.from_file(xlmr_json)
    with pytest.raises(TypeError):
        tok.encode(None)
    with pytest.raises(ValueError):
        tok.encode("\ud83d")
    with pytest.raises(TypeError, match="pair 1"):
        tok.encode_pairs([("a", "b"), ("a", None)])
    with pytest.raises(ValueError, match="pair 2: document"):
        tok.encode_pairs([("a", "b"), ("a", "b"), ("a", "x\ud800y")])
    with pytest.raises(ValueError, match="max_length"):
        tok.encode_pairs([("a", "b")], max_length=4)


def test_without_unk_id_an_unknown_character_fails_as_in_hf(xlmr_json, tmp_path):
    path = _variant(xlmr_json, tmp_path, lambda c: c["model"].update(unk_id=None))
    ours, hf = Tokenizer.from_file(path), hf_from_file(path)
    assert ours.encode("hello world") == hf.encode("hello world", add_special_tokens=False).ids
    unknown = "".join(chr(c) for c in range(0x10000, 0x10400)  # Linear B: not in the trained vocabulary
                      if 3 in hf_from_file(xlmr_json).encode(chr(c), add_special_tokens=False).ids)[:3]
    assert unknown
    with pytest.raises(Exception):
        hf.encode(unknown, add_special_tokens=False)
    with pytest.raises(ValueError, match="unk_id"):
        ours.encode(unknown)
