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
    path = tokenizer_variant(tmp_path, "bad", edit)
    with pytest.raises(ValueError, match=where):
        Tokenizer.from_file(path)


def test_bert_processing_accepted(tmp_path):
    path = tokenizer_variant(tmp_path, "bertproc", lambda c: c.update(
        post_processor={"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}))
    tok, hf = Tokenizer.from_file(path), hf_from_file(path)
    pairs = random_pairs(seed=5, count=300)
    assert_pairs_match(tok, hf, pairs, 32, "longest_first")


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
