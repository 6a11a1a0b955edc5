"""Which loader reads a tokenizer.json: one per ``model.type``, the tokenizer algorithm.

A new algorithm adds its module (``load(config) -> NativeSpec``) and one line to LOADERS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crossrank.tokenizer._json import NativeSpec, unsupported
from crossrank.tokenizer.bpe import load as load_bpe
from crossrank.tokenizer.unigram import load as load_unigram
from crossrank.tokenizer.wordpiece import load as load_wordpiece

# model.type -> (loader, the model families that use it).
LOADERS: dict[str, tuple[Callable[[dict[str, Any]], NativeSpec], str]] = {
    "WordPiece": (load_wordpiece, "BERT, ELECTRA, MiniLM"),
    "Unigram": (load_unigram, "XLM-RoBERTa, mMiniLMv2, bge-reranker"),
    "BPE": (load_bpe, "byte-level: ModernBERT, GPT-NeoX, RoBERTa"),
}


def supported() -> str:
    """What crossrank reads, for error messages: "model.type WordPiece (BERT, ...), ..."."""
    kinds = ", ".join(f"{name} ({families})" for name, (_, families) in LOADERS.items())
    return f"crossrank reads tokenizer.json files whose model.type is one of: {kinds}"


def load_native(config: object) -> NativeSpec:
    """The C++ tokenizer of a parsed tokenizer.json, built by the loader of its model.type.

    Raises:
        ValueError: naming what was found when CONFIG is not a JSON object, has no model, or its
            model.type has no loader (and whatever the loader raises).
    """
    if not isinstance(config, dict):
        raise ValueError(f"must hold a JSON object, got {type(config).__name__}")
    model = config.get("model")
    if not isinstance(model, dict):
        raise unsupported("model", model, supported())
    kind = model.get("type")
    if kind not in LOADERS:
        raise unsupported("model.type", kind, supported())
    return LOADERS[kind][0](config)
