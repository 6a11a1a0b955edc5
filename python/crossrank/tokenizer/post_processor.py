"""The pair template from tokenizer.json's post_processor: which special tokens go before the query,
between query and document and after the document, and the two type ids.

BERT's ``[CLS] A [SEP] B [SEP]`` (TemplateProcessing or BertProcessing) and RoBERTa's
``<s> A </s></s> B </s>`` (TemplateProcessing or RobertaProcessing) both become a dict with
``prefix``, ``middle``, ``suffix`` (lists of ids), ``type_id_a`` and ``type_id_b``: the keyword
arguments every ``crossrank._native`` tokenizer class takes.
"""

from __future__ import annotations

import json
from typing import Any

from crossrank.tokenizer._json import component_type, token_id, unsupported

SUPPORTED = ("the post_processor must be TemplateProcessing (special tokens around $A and $B, each side "
             "with one type id), BertProcessing or RobertaProcessing")


def _special_ids(special: dict[str, Any], name: object, where: str) -> list[int]:
    entry = special.get(name) if isinstance(name, str) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("ids"), list) or not entry["ids"]:
        raise ValueError(f"{where}: special token {name!r} has no ids in post_processor.special_tokens")
    return [token_id(value, f"post_processor.special_tokens[{name!r}].ids[{i}]")
            for i, value in enumerate(entry["ids"])]


def _template(post: dict[str, Any]) -> dict[str, Any]:
    """The template dict of a TemplateProcessing: special tokens around sequence A then sequence B."""
    pair = post.get("pair")
    special = post.get("special_tokens") or {}
    shown = json.dumps(pair)[:300]
    if not isinstance(pair, list):
        raise unsupported("post_processor.pair", pair, SUPPORTED)
    parts: dict[str, list[int]] = {"prefix": [], "middle": [], "suffix": []}
    types: dict[str, set[int]] = {"a": set(), "b": set()}
    seen = []  # sequence ids in order
    for index, piece in enumerate(pair):
        where = f"post_processor.pair[{index}]"
        if not isinstance(piece, dict) or len(piece) != 1:
            raise unsupported(where, piece, SUPPORTED)
        (kind, body), = piece.items()
        if not isinstance(body, dict):
            raise unsupported(where, piece, SUPPORTED)
        type_id = token_id(body.get("type_id", 0), f"{where}.type_id")
        if kind == "Sequence":
            if body.get("id") not in ("A", "B") or body.get("id") in seen:
                raise ValueError(f"unsupported tokenizer: post_processor pair template {shown} is not "
                                 f"specials, $A, specials, $B, specials; {SUPPORTED}")
            seen.append(body["id"])
            types["a" if body["id"] == "A" else "b"].add(type_id)
        elif kind == "SpecialToken":
            slot = ("prefix", "middle", "suffix")[len(seen)]
            parts[slot] += _special_ids(special, body.get("id"), where)
            types["a" if slot != "suffix" else "b"].add(type_id)
        else:
            raise unsupported(where, piece, SUPPORTED)
    if seen != ["A", "B"] or len(types["a"]) != 1 or len(types["b"]) != 1:
        raise ValueError(f"unsupported tokenizer: post_processor pair template {shown}: crossrank needs $A "
                         f"before $B, and one type id for the specials up to $A's end and one for the rest; "
                         f"{SUPPORTED}")
    return dict(**parts, type_id_a=types["a"].pop(), type_id_b=types["b"].pop())


def _cls_sep(post: dict[str, Any]) -> tuple[int, int]:
    try:
        cls_id, sep_id = post["cls"][1], post["sep"][1]
    except (KeyError, IndexError, TypeError):
        raise unsupported("post_processor", post, SUPPORTED) from None
    return token_id(cls_id, "post_processor.cls[1]"), token_id(sep_id, "post_processor.sep[1]")


def pair_template(config: dict[str, Any]) -> dict[str, Any]:
    """The pair template of a parsed tokenizer.json (see the module docstring).

    Raises:
        ValueError: naming the post_processor (or its field) when it is missing or of another form.
    """
    post_type = component_type(config, "post_processor", SUPPORTED)
    post = config.get("post_processor") or {}
    if post_type == "TemplateProcessing":
        return _template(post)
    if post_type in ("BertProcessing", "RobertaProcessing"):
        # tokenizers reads these two by their fields, not their type (an untagged enum, measured with
        # tokenizers 0.22): with trim_offsets and add_prefix_space it is RoBERTa's, without them BERT's.
        post_type = "RobertaProcessing" if {"trim_offsets", "add_prefix_space"} <= post.keys() else "BertProcessing"
    if post_type == "BertProcessing":
        cls_id, sep_id = _cls_sep(post)
        return dict(prefix=[cls_id], middle=[sep_id], suffix=[sep_id], type_id_a=0, type_id_b=1)
    if post_type == "RobertaProcessing":
        # What tokenizers gives a pair: <s> A </s></s> B </s>, every type id 0.
        cls_id, sep_id = _cls_sep(post)
        return dict(prefix=[cls_id], middle=[sep_id, sep_id], suffix=[sep_id], type_id_a=0, type_id_b=0)
    raise unsupported("post_processor", post_type, SUPPORTED)
