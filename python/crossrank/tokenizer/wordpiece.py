"""Loader of BERT WordPiece tokenizer.json files (BERT, ELECTRA, MiniLM, TinyBERT):
BertNormalizer + BertPreTokenizer + WordPiece + a pair template."""

from __future__ import annotations

from typing import Any

from crossrank import _native
from crossrank._validation import check_int
from crossrank.tokenizer._json import (NativeSpec, added_tokens, component_type, max_token_id, pad_id,
                                       unsupported)
from crossrank.tokenizer.post_processor import pair_template

SUPPORTED = "a WordPiece tokenizer.json needs normalizer BertNormalizer and pre_tokenizer BertPreTokenizer"
# Upper bound on model.max_input_chars_per_word (Hugging Face's default is 100). WordPiece's greedy
# longest match tries every end for every start of a word, quadratic in the word's length (Hugging
# Face's implementation, the reference, is); longer words become [UNK] without being searched, so a
# huge bound only buys that cost on adversarial text. No real vocabulary has tokens this long.
MAX_INPUT_CHARS_PER_WORD = 10_000


def _check_components(config: dict[str, Any]) -> None:
    """Raise ValueError unless the normalizer and pre-tokenizer are BERT's."""
    for key, expected in (("normalizer", "BertNormalizer"), ("pre_tokenizer", "BertPreTokenizer")):
        found = component_type(config, key, SUPPORTED)
        if found != expected:
            raise unsupported(key, found, SUPPORTED)


def _vocab_list(vocab_map: object) -> list[str | None]:
    """model.vocab (token -> id) as a list indexed by id (every slot filled); ValueError for gaps or repeats."""
    if not isinstance(vocab_map, dict) or not vocab_map:
        raise ValueError("model.vocab must be a non-empty object of token -> id")
    vocab: list[str | None] = [None] * len(vocab_map)
    for token, index in vocab_map.items():
        if not isinstance(index, int) or not 0 <= index < len(vocab) or vocab[index] is not None:
            raise ValueError(f"vocab ids (model.vocab) must be 0..{len(vocab) - 1} without gaps or repeats "
                             f"(token {token!r} has id {index!r})")
        vocab[index] = token
    return vocab


def _normalizer_options(norm: dict[str, Any]) -> dict[str, bool]:
    """BertNormalizer's flags; strip_accents null means "same as lowercase"."""
    lowercase = bool(norm.get("lowercase", True))
    strip_accents = norm.get("strip_accents")
    return dict(
        clean_text=bool(norm.get("clean_text", True)),
        handle_chinese_chars=bool(norm.get("handle_chinese_chars", True)),
        strip_accents=lowercase if strip_accents is None else bool(strip_accents),
        lowercase=lowercase,
    )


def _model_strings(model: dict[str, Any]) -> dict[str, str]:
    """WordPiece's unk_token and continuing_subword_prefix, checked to be strings."""
    out = {}
    for key, default in (("unk_token", "[UNK]"), ("continuing_subword_prefix", "##")):
        value = model.get(key, default)
        if not isinstance(value, str):
            raise ValueError(f"model.{key} must be a string, got {value!r}")
        out[key] = value
    return out


def load(config: dict[str, Any]) -> NativeSpec:
    """Build the C++ WordPiece tokenizer of a parsed tokenizer.json whose model.type is WordPiece.

    Raises:
        ValueError: naming the field, for another normalizer / pre-tokenizer / post-processor or
            values out of range.
    """
    _check_components(config)
    template = pair_template(config)
    model = config["model"]
    vocab = _vocab_list(model.get("vocab"))
    added = added_tokens(config.get("added_tokens") or [], model["vocab"])
    max_chars = check_int(model.get("max_input_chars_per_word", 100), "model.max_input_chars_per_word",
                          minimum=0, maximum=MAX_INPUT_CHARS_PER_WORD,
                          maximum_name=f"{MAX_INPUT_CHARS_PER_WORD:,} (WordPiece is quadratic per word up to it)")
    native = _native.WordPieceTokenizer(
        vocab=vocab,
        **_model_strings(model),
        max_input_chars_per_word=max_chars,
        **_normalizer_options(config["normalizer"]),
        added_tokens=added,
        **template,
    )
    pad = pad_id(config, added, model["vocab"], ("[PAD]",))
    return NativeSpec(native, pad, max_token_id(len(vocab), pad, template, added), "WordPiece")
