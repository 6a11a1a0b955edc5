"""Loader of SentencePiece Unigram tokenizer.json files (XLM-RoBERTa, mMiniLMv2, bge-reranker, ...).

Reads what transformers' SentencePiece converters write: the normalizer (absent, one component or a
Sequence of Precompiled, Strip, Replace of a string, Replace of the regex ``" {n,}"``), the Metaspace
pre-tokenizer (alone or as the only item of a Sequence; files from before tokenizers 0.14 say
``add_prefix_space`` instead of ``prepend_scheme``), the Unigram model (``vocab`` as [piece, score] pairs,
``unk_id``, ``byte_fallback``) and the pair template. Anything else is rejected naming the component.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from crossrank import _native
from crossrank._validation import check_int
from crossrank.tokenizer._json import NativeSpec, added_tokens, max_token_id, pad_id, unsupported
from crossrank.tokenizer._serde_float import serde_json_f64
from crossrank.tokenizer.post_processor import pair_template

SUPPORTED = ("a Unigram tokenizer.json needs normalizer steps among Precompiled, Strip, Replace (a string, or "
             "the regex ' {n,}') and pre_tokenizer Metaspace")
PREPEND_SCHEMES = ("always", "first", "never")
SPACE_RUN = re.compile(r"^ \{([0-9]+),\}$")  # " {2,}": a run of at least n spaces


def _flag(part: dict[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = part.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _normalizer_steps(normalizer: Any) -> list[dict[str, Any]]:
    """The normalizer (None, one component or a Sequence) as the native steps, in order."""
    if normalizer is None:
        return []
    if not isinstance(normalizer, dict):
        raise unsupported("normalizer", normalizer, SUPPORTED)
    if normalizer.get("type") == "Sequence":
        parts = normalizer.get("normalizers")
        if not isinstance(parts, list):
            raise unsupported("normalizer Sequence's normalizers", parts, SUPPORTED)
        return [_normalizer_step(part, f"normalizer Sequence item {i}") for i, part in enumerate(parts)]
    return [_normalizer_step(normalizer, "normalizer")]


def _normalizer_step(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "Precompiled":
        blob = part.get("precompiled_charsmap")
        if not isinstance(blob, str):
            raise unsupported(f"{where} (Precompiled) precompiled_charsmap", blob, SUPPORTED)
        try:
            return {"kind": "precompiled", "charsmap": base64.b64decode(blob, validate=True)}
        except binascii.Error as error:
            raise ValueError(f"{where} (Precompiled): precompiled_charsmap is not base64 ({error})") from None
    if kind == "Strip":
        return {"kind": "strip", "left": _flag(part, "strip_left", where), "right": _flag(part, "strip_right", where)}
    if kind == "Replace":
        return _replace_step(part, where)
    raise unsupported(where, kind if isinstance(kind, str) else part, SUPPORTED)


def _replace_step(part: dict[str, Any], where: str) -> dict[str, Any]:
    pattern, content = part.get("pattern"), part.get("content")
    if not isinstance(content, str):
        raise unsupported(f"{where} (Replace) content", content, SUPPORTED)
    if isinstance(pattern, dict) and isinstance(pattern.get("String"), str) and pattern["String"]:
        return {"kind": "replace", "pattern": pattern["String"], "content": content}
    regex = pattern.get("Regex") if isinstance(pattern, dict) else None
    match = SPACE_RUN.match(regex) if isinstance(regex, str) else None
    if match and int(match.group(1)) >= 1:
        return {"kind": "space_run", "min_run": int(match.group(1)), "content": content}
    raise unsupported(f"{where} (Replace) pattern", pattern, SUPPORTED)


def _metaspace(pre_tokenizer: Any) -> dict[str, Any]:
    """The Metaspace settings of the pre_tokenizer (Metaspace, or a Sequence of only a Metaspace)."""
    part = pre_tokenizer
    if isinstance(part, dict) and part.get("type") == "Sequence":
        items = part.get("pretokenizers")
        part = items[0] if isinstance(items, list) and len(items) == 1 else part
    if not isinstance(part, dict) or part.get("type") != "Metaspace":
        found = pre_tokenizer.get("type") if isinstance(pre_tokenizer, dict) else pre_tokenizer
        if isinstance(pre_tokenizer, dict) and found == "Sequence":
            found = [p.get("type") if isinstance(p, dict) else p for p in pre_tokenizer.get("pretokenizers") or []]
        raise unsupported("pre_tokenizer", found, SUPPORTED)
    where = "pre_tokenizer Metaspace"
    replacement = part.get("replacement", "\u2581")
    if not isinstance(replacement, str) or len(replacement) != 1:
        raise ValueError(f"{where}: replacement must be one character, got {replacement!r}")
    scheme = part.get("prepend_scheme")
    if scheme is None:  # written before tokenizers 0.14
        scheme = "always" if _flag(part, "add_prefix_space", where, True) else "never"
    if scheme not in PREPEND_SCHEMES:
        raise ValueError(f"{where}: prepend_scheme must be one of {', '.join(PREPEND_SCHEMES)}, got {scheme!r}")
    return {"replacement": replacement, "prepend_scheme": scheme, "split": _flag(part, "split", where, True)}


def _vocab(model: dict[str, Any]) -> tuple[list[str], list[float]]:
    """model.vocab ([[piece, score], ...]) as pieces and scores, the scores to the bit as tokenizers
    reads them (serde_json_f64: its segmentation where two tie)."""
    vocab = model.get("vocab")
    if not isinstance(vocab, list) or not vocab:
        raise ValueError("model.vocab must be a non-empty list of [piece, score]")
    pieces, scores = [], []
    for index, entry in enumerate(vocab):
        ok = (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
              and isinstance(entry[1], (int, float)) and not isinstance(entry[1], bool))
        if not ok:
            raise ValueError(f"model.vocab[{index}] must be [piece, score], got {str(entry)[:80]}")
        pieces.append(entry[0])
        scores.append(serde_json_f64(float(entry[1])))
    return pieces, scores


def load(config: dict[str, Any]) -> NativeSpec:
    """Build the C++ Unigram tokenizer of a parsed tokenizer.json whose model.type is Unigram.

    Raises:
        ValueError: naming the field, for another normalizer / pre-tokenizer / post-processor or
            values out of range.
    """
    steps = _normalizer_steps(config.get("normalizer"))
    metaspace = _metaspace(config.get("pre_tokenizer"))
    template = pair_template(config)
    model = config["model"]
    pieces, scores = _vocab(model)
    unk = model.get("unk_id")
    unk_id = -1 if unk is None else check_int(unk, "model.unk_id", minimum=0, maximum=len(pieces) - 1)
    vocab_map = {piece: index for index, piece in enumerate(pieces)}  # a repeated piece: the last id wins
    added = added_tokens(config.get("added_tokens") or [], vocab_map)
    native = _native.UnigramTokenizer(
        pieces=pieces, scores=scores, unk_id=unk_id,
        byte_fallback=_flag(model, "byte_fallback", "model"),
        normalizers=steps, **metaspace, added_tokens=added, **template)
    pad = pad_id(config, added, vocab_map, ("<pad>",))
    return NativeSpec(native, pad, max_token_id(len(pieces), pad, template, added), "Unigram")
