"""BERT WordPiece pair tokenizer backed by the C++ core (bit-identical to Hugging Face ``tokenizers``).

Only tokenizer.json files of the BERT WordPiece family are supported for now:
BertNormalizer + BertPreTokenizer + WordPiece + the ``[CLS] A [SEP] B [SEP]`` pair template
(TemplateProcessing or BertProcessing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from crossrank import _native
from crossrank._validation import TRUNCATIONS, check_choice, check_text, split_pairs

_SUPPORTED = ("only BERT WordPiece tokenizers (BertNormalizer + BertPreTokenizer + WordPiece + "
              "[CLS] A [SEP] B [SEP] post-processing) are supported for now")


class Encoding:
    """One encoded (query, document) pair: ``[CLS] query [SEP] document [SEP]``.

    ``ids`` and ``type_ids`` are lists of int, as in the ``tokenizers`` library's Encoding.
    ``truncated`` says whether any token was removed, ``query_truncated`` whether the query lost tokens.
    """

    __slots__ = ("ids", "type_ids", "truncated", "query_truncated")

    def __init__(self, ids: list[int], type_ids: list[int], truncated: bool, query_truncated: bool) -> None:
        self.ids = ids
        self.type_ids = type_ids
        self.truncated = truncated
        self.query_truncated = query_truncated

    def __len__(self) -> int:
        return len(self.ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Encoding):
            return NotImplemented
        return (self.ids, self.type_ids, self.truncated, self.query_truncated) == (
            other.ids, other.type_ids, other.truncated, other.query_truncated)

    def __repr__(self) -> str:
        return (f"Encoding(ids={self.ids!r}, type_ids={self.type_ids!r}, truncated={self.truncated}, "
                f"query_truncated={self.query_truncated})")


def _unsupported(where: str, found: Any) -> ValueError:
    shown = json.dumps(found)[:200] if not isinstance(found, str) else found
    return ValueError(f"unsupported tokenizer: {where} is {shown}; {_SUPPORTED}")


def _component_type(config: dict[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _unsupported(key, value)
    return value.get("type")


def _template_pair(post: dict[str, Any]) -> tuple[int, int, int, int]:
    """(cls_id, sep_id, type_id_a, type_id_b) from a TemplateProcessing of the BERT pair form."""
    pair = post.get("pair")
    special = post.get("special_tokens") or {}
    bad = ValueError(f"unsupported tokenizer: post_processor TemplateProcessing pair template "
                     f"{json.dumps(pair)[:300]} is not [CLS] $A [SEP] $B [SEP]; {_SUPPORTED}")
    if not isinstance(pair, list) or len(pair) != 5:
        raise bad
    kinds = ["SpecialToken", "Sequence", "SpecialToken", "Sequence", "SpecialToken"]
    pieces = []
    for piece, kind in zip(pair, kinds):
        if not isinstance(piece, dict) or list(piece) != [kind]:
            raise bad
        pieces.append(piece[kind])
    if pieces[1].get("id") != "A" or pieces[3].get("id") != "B":
        raise bad

    def special_id(name: str) -> int:
        entry = special.get(name)
        if not isinstance(entry, dict) or len(entry.get("ids") or []) != 1:
            raise bad
        return int(entry["ids"][0])

    cls_id = special_id(pieces[0].get("id"))
    sep_id = special_id(pieces[2].get("id"))
    if special_id(pieces[4].get("id")) != sep_id:
        raise bad
    type_a = {int(pieces[i].get("type_id", 0)) for i in (0, 1, 2)}
    type_b = {int(pieces[i].get("type_id", 0)) for i in (3, 4)}
    if len(type_a) != 1 or len(type_b) != 1:
        raise bad
    return cls_id, sep_id, type_a.pop(), type_b.pop()


def _added_tokens(entries: list[Any], vocab_map: dict[str, int]) -> list[dict[str, Any]]:
    """tokenizer.json's added_tokens with the ids ``tokenizers`` actually gives them.

    ``tokenizers`` does not trust the ids written in the file: loading re-adds every token
    (AddedVocabulary::add_tokens), so a token already in the model vocab gets its vocab id, a
    repeated content is ignored, and a new one gets the next id after the vocab / last added id.
    """
    ids: dict[str, int] = {}
    out = []
    for index, token in enumerate(entries):
        if not isinstance(token, dict) or not isinstance(token.get("content"), str):
            raise ValueError(f"tokenizer.json: added_tokens[{index}] needs a 'content' string")
        content = token["content"]
        if not content or content in ids:
            continue
        if content in vocab_map:
            new_id = vocab_map[content]
        else:
            top = max(ids.values(), default=None)
            new_id = len(vocab_map) if top is None or top < len(vocab_map) else top + 1
        ids[content] = new_id
        flags = {key: bool(token.get(key, False)) for key in ("lstrip", "rstrip", "single_word", "normalized")}
        out.append({"content": content, "id": new_id, **flags})
    return out


def _check_components(config: dict[str, Any]) -> None:
    """Raise ValueError unless the normalizer, pre-tokenizer and model are BERT WordPiece's."""
    if not isinstance(config, dict):
        raise ValueError(f"tokenizer.json must hold a JSON object, got {type(config).__name__}")
    for key, expected in (("normalizer", "BertNormalizer"), ("pre_tokenizer", "BertPreTokenizer"),
                          ("model", "WordPiece")):
        found = _component_type(config, key)
        if found != expected:
            raise _unsupported(key, found)


def _pair_template(config: dict[str, Any]) -> dict[str, int]:
    """cls_id, sep_id, type_id_a and type_id_b from a TemplateProcessing or BertProcessing post-processor."""
    post_type = _component_type(config, "post_processor")
    post = config.get("post_processor") or {}
    if post_type == "TemplateProcessing":
        cls_id, sep_id, type_a, type_b = _template_pair(post)
    elif post_type == "BertProcessing":
        try:
            cls_id, sep_id = int(post["cls"][1]), int(post["sep"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            raise _unsupported("post_processor", post) from None
        type_a, type_b = 0, 1
    else:
        raise _unsupported("post_processor", post_type)
    return dict(cls_id=cls_id, sep_id=sep_id, type_id_a=type_a, type_id_b=type_b)


def _vocab_list(vocab_map: object) -> list[str | None]:
    """model.vocab (token -> id) as a list indexed by id (every slot filled); ValueError for gaps or repeats."""
    if not isinstance(vocab_map, dict) or not vocab_map:
        raise ValueError("tokenizer.json: model.vocab must be a non-empty object of token -> id")
    vocab: list[str | None] = [None] * len(vocab_map)
    for token, index in vocab_map.items():
        if not isinstance(index, int) or not 0 <= index < len(vocab) or vocab[index] is not None:
            raise ValueError(f"tokenizer.json: vocab ids must be 0..{len(vocab) - 1} without gaps or repeats "
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


def _pad_id(config: dict[str, Any], added: list[dict[str, Any]], vocab_map: dict[str, int]) -> int:
    """The padding section's pad_id, else the id of [PAD] (added token first), else 0."""
    padding = config.get("padding")
    if isinstance(padding, dict) and isinstance(padding.get("pad_id"), int):
        return int(padding["pad_id"])
    by_content = {t["content"]: t["id"] for t in added}
    return int(by_content.get("[PAD]", vocab_map.get("[PAD]", 0)))


def _native_kwargs(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Validate a parsed tokenizer.json; return (kwargs for _native.WordPieceTokenizer, pad_id)."""
    _check_components(config)
    template = _pair_template(config)
    model = config["model"]
    vocab = _vocab_list(model.get("vocab"))
    added = _added_tokens(config.get("added_tokens") or [], model["vocab"])
    kwargs = dict(
        vocab=vocab,
        unk_token=model.get("unk_token", "[UNK]"),
        continuing_subword_prefix=model.get("continuing_subword_prefix", "##"),
        max_input_chars_per_word=int(model.get("max_input_chars_per_word", 100)),
        **_normalizer_options(config["normalizer"]),
        added_tokens=added,
        **template,
    )
    return kwargs, _pad_id(config, added, model["vocab"])


class Tokenizer:
    """Pair tokenizer for cross-encoders; build it with :meth:`from_file`."""

    def __init__(self, native: Any, pad_id: int = 0) -> None:
        """Wrap a ``crossrank._native.WordPieceTokenizer`` (prefer :meth:`from_file`)."""
        self._native = native
        self._pad_id = int(pad_id)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Load a Hugging Face tokenizer.json.

        Raises ValueError if the file is not a BERT WordPiece tokenizer (the only kind supported for now).
        """
        with open(path, encoding="utf-8") as f:
            try:
                config = json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(f"{os.fspath(path)} is not valid JSON: {error}") from None
        return cls.from_dict(config)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> Tokenizer:
        """Build from the parsed contents of a tokenizer.json."""
        kwargs, pad_id = _native_kwargs(config)
        return cls(_native.WordPieceTokenizer(**kwargs), pad_id)

    @property
    def native(self) -> Any:
        """The ``crossrank._native.WordPieceTokenizer`` (shared with the C++ engine)."""
        return self._native

    @property
    def pad_id(self) -> int:
        """Id of the padding token ([PAD] unless tokenizer.json says otherwise)."""
        return self._pad_id

    def encode(self, text: str) -> list[int]:
        """Token ids of one text, without special tokens."""
        check_text(text, "text")
        return self._native.encode(text)

    def encode_pairs(self, pairs: Sequence[tuple[str, str]], max_length: int = 512,
                     truncation: str = "only_second") -> list[Encoding]:
        """Encode (query, document) pairs as ``[CLS] query [SEP] document [SEP]``.

        ``max_length`` counts the three special tokens and must be >= 4. ``truncation`` is
        ``"only_second"`` (cut the document; when the query alone does not leave room for one
        document token, fall back to ``"longest_first"`` and set ``query_truncated``) or
        ``"longest_first"`` (Hugging Face's, as sentence-transformers uses).
        """
        check_choice(truncation, TRUNCATIONS, "truncation")
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise TypeError(f"max_length must be int, got {type(max_length).__name__}")
        if max_length < 4:
            raise ValueError(f"max_length must be >= 4 (3 special tokens + 1), got {max_length}")
        queries, docs = split_pairs(pairs)
        raw = self._native.encode_pairs(queries, docs, max_length, truncation, pair_names=True)
        return [Encoding(*item) for item in raw]
