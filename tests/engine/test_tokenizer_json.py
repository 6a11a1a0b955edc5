"""crossrank.Tokenizer.from_file / from_dict: which tokenizer.json files are accepted, and the
errors for the rest."""

from __future__ import annotations

import copy
import json

import pytest
from tokenizer_cases import (
    MINILM_JSON,
    assert_pairs_match,
    hf_from_file,
    random_pairs,
    tokenizer_variant,
    tokenizers,
)

from crossrank.tokenizer import Tokenizer

# --------------------------------------------------------------------------------------------
# tokenizer.json validation
# --------------------------------------------------------------------------------------------


def test_rejects_unknown_algorithm_naming_what_it_reads(tmp_path):
    from tokenizers import models, pre_tokenizers

    word_level = tokenizers.Tokenizer(models.WordLevel(vocab={"a": 0, "b": 1, "[UNK]": 2}, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "wordlevel.json"
    word_level.save(str(path))
    with pytest.raises(ValueError, match=r"wordlevel.json: unsupported tokenizer: model.type is WordLevel; "
                                         r"crossrank reads .*WordPiece \(BERT"):
        Tokenizer.from_file(path)


@pytest.mark.parametrize("edit, where", [
    (lambda c: c.update(normalizer={"type": "NFKC"}), "normalizer is NFKC"),
    (lambda c: c.update(normalizer=None), "normalizer is null"),
    (lambda c: c.update(pre_tokenizer={"type": "Whitespace"}), "pre_tokenizer is Whitespace"),
    (lambda c: c["model"].update(type="WordLevel"), "model.type is WordLevel"),
    (lambda c: c.update(post_processor={"type": "ByteLevel"}), "post_processor is ByteLevel"),
    (lambda c: c["post_processor"]["pair"].reverse(), "needs \\$A before \\$B"),
    (lambda c: c["post_processor"]["pair"].append({"Sequence": {"id": "A", "type_id": 0}}), "pair template"),
    (lambda c: c.pop("model"), "model is null"),
])
def test_rejects_non_bert_components(tmp_path, edit, where):
    path = tokenizer_variant(tmp_path, "bad", edit)
    with pytest.raises(ValueError, match=where):
        Tokenizer.from_file(path)


def test_bert_processing_accepted(tmp_path):
    path = tokenizer_variant(tmp_path, "bertproc", lambda c: c.update(
        post_processor={"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}))
    tok, hf = Tokenizer.from_file(path), hf_from_file(path)
    pairs = random_pairs(seed=5, count=300)
    assert_pairs_match(tok, hf, pairs, 32, "longest_first")


def test_roberta_processing_matches_hf(tmp_path):
    # RoBERTa's pair template (<s> A </s></s> B </s>, four special tokens, every type id 0) on a
    # WordPiece vocabulary: the template is the tokenizer's, whatever its algorithm.
    roberta = {"type": "RobertaProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101], "trim_offsets": True,
               "add_prefix_space": True}
    path = tokenizer_variant(tmp_path, "robertaproc", lambda c: c.update(post_processor=roberta))
    tok, hf = Tokenizer.from_file(path), hf_from_file(path)
    assert tok.special_count == 4
    pairs = random_pairs(seed=6, count=300)
    for strategy in ("only_second", "longest_first"):
        assert_pairs_match(tok, hf, pairs, 24, strategy)
    with pytest.raises(ValueError, match="max_length must be >= 5"):
        tok.encode_pairs(pairs[:1], max_length=4)
    # tokenizers reads a RobertaProcessing without those two fields as BertProcessing; so does crossrank.
    bare = {key: roberta[key] for key in ("type", "sep", "cls")}
    path = tokenizer_variant(tmp_path, "bare", lambda c: c.update(post_processor=bare))
    tok, hf = Tokenizer.from_file(path), hf_from_file(path)
    assert tok.special_count == 3
    assert_pairs_match(tok, hf, pairs, 24, "longest_first")


def test_config_errors(tmp_path):
    def drop_unk(c):
        del c["model"]["vocab"]["[UNK]"]
        c["model"]["vocab"] = {t: i for i, t in enumerate(c["model"]["vocab"])}

    with pytest.raises(ValueError, match="unk"):
        Tokenizer.from_file(tokenizer_variant(tmp_path, "nounk", drop_unk))
    with pytest.raises(ValueError, match="vocab ids"):
        Tokenizer.from_file(
            tokenizer_variant(tmp_path, "gap", lambda c: c["model"]["vocab"].update({"zzz-new": 10 ** 6})))
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
