"""A malformed tokenizer.json raises ValueError naming the file and the field: non-UTF-8 bytes,
ids the engine cannot hold, max_input_chars_per_word out of range, wrong types."""

from __future__ import annotations

import json

import pytest
from tokenizer_cases import MINILM_JSON, tokenizer_variant

from crossrank.tokenizer import Tokenizer
from crossrank.tokenizer.wordpiece import MAX_INPUT_CHARS_PER_WORD


def test_non_utf8_bytes_name_the_file(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(open(MINILM_JSON, "rb").read().replace(b'"[UNK]"', b'"[UNK\xe9]"', 1))
    with pytest.raises(ValueError, match=rf"{path} is not UTF-8 text \(byte \d+"):
        Tokenizer.from_file(path)


def _special(name: str, value):
    def edit(config):
        config["post_processor"]["special_tokens"][name]["ids"] = [value]
    return edit


@pytest.mark.parametrize("edit, field", [
    (_special("[CLS]", 2**40), r"post_processor.special_tokens\['\[CLS\]'\].ids\[0\]"),
    (_special("[SEP]", -1), r"post_processor.special_tokens\['\[SEP\]'\].ids\[0\]"),
    (_special("[CLS]", "101"), r"post_processor.special_tokens\['\[CLS\]'\].ids\[0\]"),
    (_special("[CLS]", 101.0), r"post_processor.special_tokens\['\[CLS\]'\].ids\[0\]"),
    (lambda c: c["post_processor"]["pair"][3]["Sequence"].update(type_id=2**33), r"post_processor.pair\[3\].type_id"),
    (lambda c: c.update(padding={"pad_id": 2**31}), "padding.pad_id"),
    (lambda c: c.update(post_processor={"type": "BertProcessing", "sep": ["[SEP]", 2**40], "cls": ["[CLS]", 101]}),
     r"post_processor.sep\[1\]"),
    (lambda c: c["model"].update(max_input_chars_per_word=-1), "model.max_input_chars_per_word"),
    (lambda c: c["model"].update(max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD + 1),
     "model.max_input_chars_per_word"),
    (lambda c: c["model"].update(max_input_chars_per_word=1e9), "model.max_input_chars_per_word"),
    (lambda c: c["model"].update(unk_token=None), "model.unk_token must be a string"),
    (lambda c: c["model"].update(continuing_subword_prefix=5), "model.continuing_subword_prefix must be a string"),
])
def test_out_of_range_fields_name_the_field_and_the_file(tmp_path, edit, field):
    path = tokenizer_variant(tmp_path, "bad", edit)
    with pytest.raises(ValueError, match=f"^{path}: {field}") as raised:
        Tokenizer.from_file(path)
    assert "incompatible" not in str(raised.value)


def test_the_cap_says_why(tmp_path):
    path = tokenizer_variant(tmp_path, "huge", lambda c: c["model"].update(max_input_chars_per_word=10**12))
    with pytest.raises(ValueError, match="quadratic per word"):
        Tokenizer.from_file(path)


def test_max_input_chars_per_word_at_the_cap_is_accepted(tmp_path):
    path = tokenizer_variant(tmp_path, "cap",
                             lambda c: c["model"].update(max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD))
    assert Tokenizer.from_file(path).encode("hello world") == Tokenizer.from_file(MINILM_JSON).encode("hello world")


def test_from_dict_names_its_source():
    config = json.load(open(MINILM_JSON, encoding="utf-8"))
    config["model"]["max_input_chars_per_word"] = -1
    with pytest.raises(ValueError, match="^tokenizer.json: model.max_input_chars_per_word"):
        Tokenizer.from_dict(config)
    with pytest.raises(ValueError, match="^mine: model.max_input_chars_per_word"):
        Tokenizer.from_dict(config, source="mine")


def test_max_token_id_covers_vocab_added_and_special_tokens(tmp_path):
    plain = Tokenizer.from_file(MINILM_JSON)
    assert plain.max_token_id == 30521
    path = tokenizer_variant(tmp_path, "added", lambda c: c["added_tokens"].append(
        {"id": 0, "content": "<new-token>", "special": True}))
    assert Tokenizer.from_file(path).max_token_id == 30522
