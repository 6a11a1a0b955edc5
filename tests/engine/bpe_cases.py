"""What the byte-level BPE tests share: tokenizer.json files with ModernBERT's structure, built
offline (a byte-level BPE trained here with the `tokenizers` trainer), and texts that exercise
the GPT-2 pre-tokenizer regex."""

from __future__ import annotations

import copy
import json
import random

import pytest
from tokenizer_cases import random_pairs, random_text

tokenizers = pytest.importorskip("tokenizers")

# Extra training text: the regex's corners (contractions, digits, runs of spaces and newlines),
# code, and scripts the random generator has few words of.
EXTRA_TEXT = [
    "I'm sure they'll say it's what we've done, isn't it? You'd think so. They're here.",
    "def main(argv):\n    for i in range(10):\n        print(f'{i:>4}')  # comment\n\treturn 0\n",
    "The year 2024 had 365 days; 3.14159 is pi, 1,000,000 is a million, ½ and ⅓ are fractions.",
    "東京は日本の首都です。北京是中国的首都。서울은 한국의 수도입니다。",
    "ภาษาไทยเป็นภาษาที่สวยงาม مرحبا بالعالم नमस्ते दुनिया Привет, мир! Γειά σου Κόσμε",
    "e-mail: someone@example.com, url: https://example.org/path?q=1&r=2 #tag @user $100 50%",
    "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ naïve café résumé jalapeño Zürich Straße façade",
]

MODERNBERT_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


def training_corpus(count: int = 4000) -> list[str]:
    rng = random.Random(99)
    texts = [random_text(rng, 40) for _ in range(count)]
    return texts + EXTRA_TEXT * 50


def train_byte_level_bpe(vocab_size: int = 8000) -> dict:
    """A byte-level BPE (all 256 byte symbols) as a tokenizer.json dict, before ModernBERT's extras."""
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    return json.loads(tok.to_str())


def _added(content: str, id_: int, *, special: bool, normalized: bool, lstrip: bool = False) -> dict:
    return {"id": id_, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": normalized, "special": special}


def bert_template(cls_id: int, sep_id: int) -> dict:
    """ModernBERT's post_processor: TemplateProcessing [CLS] $A [SEP] $B:1 [SEP]:1."""
    return {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [cls_id], "tokens": ["[CLS]"]},
                           "[SEP]": {"id": "[SEP]", "ids": [sep_id], "tokens": ["[SEP]"]}},
    }


def modernbert_like(base: dict, normalizer: str | None = "NFC") -> dict:
    """ModernBERT's tokenizer.json structure around a trained byte-level BPE: the PII and padding
    tokens, the runs of spaces as added tokens, [UNK] [CLS] [SEP] [PAD] [MASK] (lstrip), unused
    tokens, and the [CLS] A [SEP] B [SEP] template."""
    config = copy.deepcopy(base)
    vocab = config["model"]["vocab"]
    n = max(vocab.values()) + 1
    added = [_added("|||IP_ADDRESS|||", n, special=False, normalized=True),
             _added("<|padding|>", n + 1, special=True, normalized=False)]
    added += [_added(" " * k, n + 1 + i, special=False, normalized=True) for i, k in enumerate(range(24, 1, -1), 1)]
    nxt = n + 25
    added += [_added("|||EMAIL_ADDRESS|||", nxt, special=False, normalized=True),
              _added("|||PHONE_NUMBER|||", nxt + 1, special=False, normalized=True),
              _added("<|endoftext|>", nxt + 2, special=True, normalized=False)]
    nxt += 3
    for i, name in enumerate(MODERNBERT_SPECIALS):
        added.append(_added(name, nxt + i, special=True, normalized=False, lstrip=name == "[MASK]"))
    nxt += len(MODERNBERT_SPECIALS)
    added += [_added(f"[unused{i}]", nxt + i, special=False, normalized=True) for i in range(8)]
    config["added_tokens"] = added
    ids = {t["content"]: t["id"] for t in added}
    config["normalizer"] = {"type": normalizer} if normalizer else None
    config["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                               "use_regex": True}
    config["post_processor"] = bert_template(ids["[CLS]"], ids["[SEP]"])
    return config


def write_json(tmp_path, name: str, config: dict) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return str(path)


REGEX_CASES = [
    "", " ", "  ", "\n", "\n\n", " \n ", "a", " a", "  a", "   a", "a ", "a  ", "a   ", "a\n", "a \n b",
    "it's", "It'S", "we've they're I'm you'll he'd don't", " 's", "''s", "x's", "!'s", "'s", "'", "'l", "'ll",
    "'re'", "123", " 123", "12 34", "3.14", "1,000", "½⅓", "x1y2", "Ⅻ ⅻ", "٣٤", "१२३",
    "hello  world", "hello\n\nworld", "hello \n world", "\t\tx", "a\t b", "a \tb", "x\u00a0y", "x\u3000y",
    "x \u00a0y", "x\u2028y", "end   ", "  lead", "a\r\nb", "a\x0bb", "a\x0cb", "a\x1cb", "a\x85b",
    "!!", " !!", "a!!b", "... ", "—–", "a_b", "_x", "@#$", " @", "😀😀", " 😀", "👨‍👩‍👧‍👦", "🏳️‍🌈",
    "e\u0301", "é", "a\u0328\u0301", "\u0301x", "ﬁ", "Å", "\u212b", "가", "\u1100\u1161\u11a8", "ดี", "क्षि",
    "[MASK]", " [MASK]", "  [MASK]", "x[MASK]y", "[CLS] a [SEP]", "|||IP_ADDRESS|||", "a|||EMAIL_ADDRESS|||b",
    "[unused3]", " [unused3] ", "<|endoftext|>", "<|padding|>", " " * 30, " " * 25 + "x", "x" + " " * 24 + "y",
]


def varied_pairs(seed: int, count: int, doc_pieces=(0, 3, 30, 110)) -> list[tuple[str, str]]:
    """random_pairs (tokenizer_cases), with REGEX_CASES and runs of spaces mixed in."""
    rng = random.Random(seed)
    pairs = random_pairs(seed, count, doc_pieces)
    out = []
    for q, d in pairs:
        if rng.random() < 0.3:
            d = d + rng.choice(REGEX_CASES) + " " * rng.randrange(0, 6) + rng.choice(REGEX_CASES)
        if rng.random() < 0.1:
            q = rng.choice(REGEX_CASES) + q
        out.append((q, d))
    return out


def roberta_like(base: dict, add_prefix_space: bool = False) -> dict:
    """RoBERTa's / GPT-2's structure: no normalizer, ByteLevel, <s> A </s></s> B </s> (RobertaProcessing)."""
    config = copy.deepcopy(base)
    n = max(config["model"]["vocab"].values()) + 1
    names = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    config["added_tokens"] = [_added(name, n + i, special=True, normalized=False, lstrip=name == "<mask>")
                              for i, name in enumerate(names)]
    config["normalizer"] = None
    config["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True}
    config["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", n + 2], "cls": ["<s>", n],
                                "trim_offsets": True, "add_prefix_space": add_prefix_space}
    return config


def tiny_bpe(vocab: list[str], merges: list[tuple[str, str]], **model) -> dict:
    """A hand-made byte-level BPE tokenizer.json: all 256 byte symbols, then `vocab`, then [CLS] [SEP]."""
    from tokenizers import pre_tokenizers

    symbols = list(pre_tokenizers.ByteLevel.alphabet())
    symbols.sort(key=lambda s: ord(s))
    full = {s: i for i, s in enumerate(symbols)}
    for token in vocab:
        full.setdefault(token, len(full))
    config = {
        "version": "1.0", "truncation": None, "padding": None, "decoder": None, "normalizer": None,
        "added_tokens": [],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": full, "merges": [list(m) for m in merges], **model},
    }
    n = len(full)
    config["added_tokens"] = [_added("[CLS]", n, special=True, normalized=False),
                              _added("[SEP]", n + 1, special=True, normalized=False)]
    config["post_processor"] = bert_template(n, n + 1)
    return config
