"""Loader of byte-level BPE tokenizer.json files (ModernBERT, GPT-NeoX / OLMo, RoBERTa):
normalizer null or NFC + pre_tokenizer ByteLevel + model BPE + a pair template."""

from __future__ import annotations

from typing import Any

from crossrank import _native
from crossrank.tokenizer._json import (NativeSpec, added_tokens, component_type, max_token_id, pad_id, token_id,
                                       unsupported)
from crossrank.tokenizer.post_processor import pair_template

SUPPORTED = ("a BPE tokenizer.json needs normalizer null or NFC, pre_tokenizer ByteLevel (GPT-2's regex, as "
             "ModernBERT, GPT-NeoX and RoBERTa have) and no BPE dropout")


def _nfc(config: dict[str, Any]) -> bool:
    """Whether the normalizer is NFC (True) or absent (False); a Sequence of NFCs is one NFC."""
    kind = component_type(config, "normalizer", SUPPORTED)
    if kind is None:
        return False
    if kind == "NFC":
        return True
    if kind == "Sequence":
        parts = config["normalizer"].get("normalizers")
        if isinstance(parts, list):
            for index, part in enumerate(parts):
                if not isinstance(part, dict) or part.get("type") != "NFC":
                    raise unsupported(f"normalizer.normalizers[{index}]", part, SUPPORTED)
            return bool(parts)
    raise unsupported("normalizer", kind, SUPPORTED)


def _flag(section: dict[str, Any], key: str, where: str, default: bool | None = None) -> bool:
    """SECTION[KEY] as a bool; DEFAULT when absent (None: required, as tokenizers requires it)."""
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{where}.{key} must be true or false, got {value!r}")
    return value


def _byte_level(config: dict[str, Any]) -> dict[str, bool]:
    """ByteLevel's add_prefix_space and use_regex."""
    kind = component_type(config, "pre_tokenizer", SUPPORTED)
    if kind != "ByteLevel":
        raise unsupported("pre_tokenizer", kind, SUPPORTED)
    pre = config["pre_tokenizer"]
    return dict(add_prefix_space=_flag(pre, "add_prefix_space", "pre_tokenizer"),
                use_regex=_flag(pre, "use_regex", "pre_tokenizer", True))


def _vocab(model: dict[str, Any]) -> dict[str, int]:
    vocab = model.get("vocab")
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError("model.vocab must be a non-empty object of token -> id")
    for token, value in vocab.items():
        token_id(value, f"model.vocab[{token!r}]")
    return vocab


def _merges(model: dict[str, Any]) -> list[tuple[str, str]]:
    """model.merges as (left, right) pairs: lists of two strings, or "left right" strings (older files)."""
    merges = model.get("merges", [])
    if not isinstance(merges, list):
        raise ValueError(f"model.merges must be a list, got {type(merges).__name__}")
    out = []
    for index, merge in enumerate(merges):
        parts = merge.split(" ") if isinstance(merge, str) else merge
        if not isinstance(parts, list) or len(parts) != 2 or not all(isinstance(p, str) for p in parts):
            raise ValueError(f"model.merges[{index}] must be two tokens ([left, right] or \"left right\"), "
                             f"got {merge!r}")
        out.append((parts[0], parts[1]))
    return out


def _optional_string(model: dict[str, Any], key: str) -> str | None:
    value = model.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"model.{key} must be a string or null, got {value!r}")
    return value


def _model_options(model: dict[str, Any]) -> dict[str, Any]:
    """The BPE model's options; dropout must be null or 0 (crossrank tokenizes deterministically)."""
    dropout = model.get("dropout")
    if dropout not in (None, 0, 0.0) or isinstance(dropout, bool):
        raise unsupported("model.dropout", dropout, SUPPORTED)
    return dict(
        unk_token=_optional_string(model, "unk_token"),
        continuing_subword_prefix=_optional_string(model, "continuing_subword_prefix") or "",
        end_of_word_suffix=_optional_string(model, "end_of_word_suffix") or "",
        **{key: _flag(model, key, "model", False) for key in ("fuse_unk", "byte_fallback", "ignore_merges")},
    )


def load(config: dict[str, Any]) -> NativeSpec:
    """Build the C++ byte-level BPE tokenizer of a parsed tokenizer.json whose model.type is BPE.

    Raises:
        ValueError: naming the field, for another normalizer / pre-tokenizer / post-processor, BPE
            dropout, merges of tokens outside the vocab, or values out of range.
    """
    nfc = _nfc(config)
    byte_level = _byte_level(config)
    template = pair_template(config)
    model = config["model"]
    vocab = _vocab(model)
    added = added_tokens(config.get("added_tokens") or [], vocab)
    try:
        native = _native.ByteLevelBpeTokenizer(vocab=vocab, merges=_merges(model), **_model_options(model),
                                               nfc=nfc, **byte_level, added_tokens=added, **template)
    except ValueError as error:
        raise ValueError(f"model: {error}") from None
    pad = pad_id(config, added, vocab)
    return NativeSpec(native, pad, max_token_id(max(vocab.values()) + 1, pad, template, added), "BPE")
