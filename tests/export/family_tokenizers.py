"""Real-structure tokenizers for the model families, made offline (no Hub).

- XLM-RoBERTa: a SentencePiece Unigram model (``nmt_nfkc`` normalization) trained with the
  ``sentencepiece`` package and converted by transformers' XLMRobertaConverter (through
  ``XLMRobertaTokenizerFast(__slow_tokenizer=...)``, transformers < 5): its tokenizer.json has
  XLM-R's Precompiled normalizer, Metaspace pre-tokenizer, Unigram model and the
  ``<s> A </s></s> B </s>`` template.
- ModernBERT: a byte-level BPE trained with ``tokenizers``' BpeTrainer (ByteLevel pre-tokenizer and
  decoder, ``[CLS] A [SEP] B [SEP]`` template), as ModernBERT's tokenizer.json has it.

Both are trained on English prose (crossrank.workloads) and a multilingual sample, so the pieces are
real and every script of the tests tokenizes to something. Vocabulary sizes are small (the models'
embedding tables are larger; ids only need to fit).
"""

from __future__ import annotations

import json
from pathlib import Path

from crossrank.workloads import passages

# A few sentences per script, so the trained vocabularies cover them.
MULTILINGUAL = (
    "Paris est la capitale de la France. Où se trouve la tour Eiffel ?",
    "Die Hauptstadt Deutschlands ist Berlin. Straße, Größe, Zürich, über.",
    "¿Cuál es la capital de España? Madrid es la capital y la ciudad más poblada.",
    "Столица России — Москва. Привет, как дела?",
    "北京是中国的首都。东京是日本的首都。日本語のテキストも少し。",
    "서울은 대한민국의 수도입니다. 한국어 텍스트.",
    "القاهرة هي عاصمة مصر. مرحبا بالعالم.",
    "नई दिल्ली भारत की राजधानी है। नमस्ते दुनिया।",
    "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "emoji 🙂 👍🏽 👨‍👩‍👧 café naïve résumé jalapeño São Paulo",
)


def training_corpus(count: int = 600) -> list[str]:
    """English passages and the multilingual sample, deterministic."""
    return list(passages(count, seed=11)) + list(MULTILINGUAL) * 20


def make_unigram_tokenizer(folder: Path, vocab_size: int = 2000, max_length: int = 512) -> Path:
    """Train a SentencePiece Unigram model and save XLM-R's tokenizer files (tokenizer.json and the
    sentencepiece model) into FOLDER. Needs ``sentencepiece`` and transformers < 5."""
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizer, XLMRobertaTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(training_corpus()), encoding="utf-8")
    prefix = folder / "sentencepiece.bpe"  # the file name XLM-R's folders use
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
        normalization_rule_name="nmt_nfkc", character_coverage=1.0, hard_vocab_limit=False,
        byte_fallback=False, minloglevel=2, num_threads=1)
    corpus.unlink()
    (folder / "sentencepiece.bpe.vocab").unlink()
    slow = XLMRobertaTokenizer(str(prefix) + ".model", model_max_length=max_length)
    XLMRobertaTokenizerFast(__slow_tokenizer=slow, model_max_length=max_length).save_pretrained(folder)
    return folder


def make_bpe_tokenizer(folder: Path, vocab_size: int = 2000, max_length: int = 8192) -> Path:
    """Train a byte-level BPE with ModernBERT's special tokens and template; save it into FOLDER
    as tokenizer.json plus a PreTrainedTokenizerFast config."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
        mask_token="[MASK]", model_max_length=max_length, model_input_names=["input_ids", "attention_mask"])
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return folder


def special_ids(folder: Path) -> dict[str, int]:
    """{content: id} of FOLDER/tokenizer.json's added tokens (the ids a config must name)."""
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    return {t["content"]: int(t["id"]) for t in data.get("added_tokens", [])}
