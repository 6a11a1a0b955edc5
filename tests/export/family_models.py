"""Random-weight cross-encoders of each supported family, built from configs (no Hub), saved with a
real-structure tokenizer: tiny ones for the tests (seconds to export) and full-size-shaped ones for
the benchmark (``scripts/make_family_models.py OUT_DIR``).

Families and their shapes (``SHAPES``):

- ``xlm-roberta`` / ``bge-reranker-base``: XLM-R base (BAAI/bge-reranker-base: 768 wide, 12 layers,
  12 heads of 64, vocab 250,002, 514 positions, no token types); ``mminilm``: mMiniLMv2-L12-H384
  (cross-encoder/mmarco-mMiniLMv2-L12-H384-v1: 384 wide, 12 heads of 32). Unigram tokenizer
  (family_tokenizers.make_unigram_tokenizer).
- ``modernbert``: Alibaba-NLP/gte-reranker-modernbert-base's shape (768 wide, 22 layers, GeGLU 1152,
  global attention every 3rd layer, local window 128, 8,192 positions). Byte-level BPE tokenizer.
- ``electra``: cross-encoder/ms-marco-electra-base's shape (BERT-base-sized). MiniLM's WordPiece
  tokenizer (the uncased BERT vocabulary, as that model's).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from family_tokenizers import make_bpe_tokenizer, make_unigram_tokenizer, special_ids

SEED = 4321
TOKENIZER_KIND = {"xlm-roberta": "unigram", "modernbert": "bpe", "electra": "wordpiece"}
# An XLM-R graph with MiniLM's WordPiece vocabulary in RoBERTa's pair layout (<s> A </s></s> B </s>
# as [CLS] A [SEP][SEP] B [SEP], no token types): the XLM-R graph (position offset, no
# token_type_ids) through crossrank's engine before its Unigram tokenizer is in the core.
WORDPIECE_STAND_IN = "tiny-xlm-roberta-wordpiece"
# Tiny shapes keep head widths the kernels take (32, 64) unless the name says otherwise. Their
# weights are drawn 10x wider than transformers' default (initializer_range 0.2), so that the
# random models' scores spread across inputs like a trained head's (with the default they differ in
# the second decimal, below int8's rounding, and agreement measurements say nothing).
TINY = dict(initializer_range=0.2)
SHAPES: dict[str, dict[str, Any]] = {
    "tiny-xlm-roberta": dict(**TINY, family="xlm-roberta", hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=128, vocab_size=2002, max_position_embeddings=130),
    "tiny-xlm-roberta-h16": dict(**TINY, family="xlm-roberta", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, vocab_size=2002, max_position_embeddings=130),
    WORDPIECE_STAND_IN: dict(**TINY, family="xlm-roberta", hidden_size=64, num_hidden_layers=2,
                             num_attention_heads=2, intermediate_size=128, vocab_size=30522,
                             max_position_embeddings=130, pad_token_id=0),
    "tiny-modernbert": dict(**TINY, family="modernbert", hidden_size=64, num_hidden_layers=3, num_attention_heads=2,
                            intermediate_size=96, vocab_size=2000, max_position_embeddings=512,
                            global_attn_every_n_layers=3, local_attention=16),
    "tiny-electra": dict(**TINY, family="electra", hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=128, vocab_size=30522, max_position_embeddings=512),
    "bge-reranker-base": dict(family="xlm-roberta", hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=3072, vocab_size=250002, max_position_embeddings=514),
    "mminilm": dict(family="xlm-roberta", hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=1536, vocab_size=250002, max_position_embeddings=514),
    "gte-reranker-modernbert-base": dict(family="modernbert", hidden_size=768, num_hidden_layers=22,
                                         num_attention_heads=12, intermediate_size=1152, vocab_size=50368,
                                         max_position_embeddings=8192, global_attn_every_n_layers=3,
                                         local_attention=128),
    "electra-base": dict(family="electra", hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, vocab_size=30522, max_position_embeddings=512),
}
FULL_SIZE = ("bge-reranker-base", "mminilm", "gte-reranker-modernbert-base", "electra-base")


def _config(shape: dict[str, Any], specials: dict[str, int]) -> Any:
    """transformers' config of SHAPE, one label, no dropout, special ids from the tokenizer."""
    from transformers import ElectraConfig, ModernBertConfig, XLMRobertaConfig

    shape = dict(shape)
    family = shape.pop("family")
    common = dict(num_labels=1, **shape)
    if family == "xlm-roberta":
        ids = dict(pad_token_id=specials.get("<pad>", 1), bos_token_id=specials.get("<s>", 0),
                   eos_token_id=specials.get("</s>", 2))
        ids.update({k: shape.pop(k) for k in list(shape) if k.endswith("_token_id")})
        common = dict(num_labels=1, **shape)
        config = XLMRobertaConfig(**common, **ids, type_vocab_size=1, hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0)
        config.architectures = ["XLMRobertaForSequenceClassification"]
    elif family == "modernbert":
        config = ModernBertConfig(**common, pad_token_id=specials["[PAD]"], cls_token_id=specials["[CLS]"],
                                  sep_token_id=specials["[SEP]"], bos_token_id=specials["[CLS]"],
                                  eos_token_id=specials["[SEP]"], reference_compile=False,
                                  classifier_pooling="mean")
        config.architectures = ["ModernBertForSequenceClassification"]
    else:
        config = ElectraConfig(**common, embedding_size=shape["hidden_size"], type_vocab_size=2,
                               hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        config.architectures = ["ElectraForSequenceClassification"]
    return config


def _roberta_pair_layout(folder: Path) -> None:
    """Rewrite FOLDER/tokenizer.json's post-processor as RoBERTa's, on [CLS] / [SEP]."""
    path = folder / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    ids = special_ids(folder)
    data["post_processor"] = {"type": "RobertaProcessing", "sep": ["[SEP]", ids["[SEP]"]],
                              "cls": ["[CLS]", ids["[CLS]"]], "trim_offsets": True, "add_prefix_space": False}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _save_tokenizer(kind: str, folder: Path, wordpiece_dir: Path | None) -> dict[str, int]:
    if kind == "unigram":
        make_unigram_tokenizer(folder)
    elif kind == "bpe":
        make_bpe_tokenizer(folder)
    else:
        if wordpiece_dir is None:
            raise ValueError("a WordPiece model needs wordpiece_dir (MiniLM's tokenizer files)")
        for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
            if (wordpiece_dir / name).is_file():
                shutil.copyfile(wordpiece_dir / name, folder / name)
    return special_ids(folder)


def make_family_model(name: str, folder: Path, *, wordpiece_dir: Path | None = None) -> Path:
    """Save the seeded random cross-encoder SHAPES[NAME] with its tokenizer into FOLDER.

    Args:
        name: a key of SHAPES.
        folder: created if needed.
        wordpiece_dir: a BERT WordPiece tokenizer folder (ELECTRA only).

    Returns:
        FOLDER.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    shape = SHAPES[name]
    folder.mkdir(parents=True, exist_ok=True)
    kind = "wordpiece" if name == WORDPIECE_STAND_IN else TOKENIZER_KIND[shape["family"]]
    specials = _save_tokenizer(kind, folder, wordpiece_dir)
    if name == WORDPIECE_STAND_IN:
        _roberta_pair_layout(folder)
    torch.manual_seed(SEED)
    model = AutoModelForSequenceClassification.from_config(_config(shape, specials)).eval()
    model.save_pretrained(folder, safe_serialization=True)
    return folder
