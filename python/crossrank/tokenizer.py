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
from crossrank._validation import INT32_MAX, TRUNCATIONS, check_choice, check_int, check_text, split_pairs

_SUPPORTED = ("only BERT WordPiece tokenizers (BertNormalizer + BertPreTokenizer + WordPiece + "
              "[CLS] A [SEP] B [SEP] post-processing) are supported for now")
# Upper bound on model.max_input_chars_per_word (Hugging Face's default is 100). WordPiece's greedy
# longest match tries every end for every start of a word, quadratic in the word's length (Hugging
# Face's implementation, the reference, is); longer words become [UNK] without being searched, so a
# huge bound only buys that cost on adversarial text. No real vocabulary has tokens this long.
MAX_INPUT_CHARS_PER_WORD = 10_000


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


def _token_id(value: object, where: str) -> int:
    """VALUE as a token id (an int from 0 to INT32_MAX, what the engine holds), naming WHERE if not."""
    return check_int(value, where, minimum=0, maximum=INT32_MAX)


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
        if not isinstance(entry, dict) or not isinstance(entry.get("ids"), list) or len(entry["ids"]) != 1:
            raise bad
        return _token_id(entry["ids"][0], f"post_processor.special_tokens[{name!r}].ids[0]")

    cls_id = special_id(pieces[0].get("id"))
    sep_id = special_id(pieces[2].get("id"))
    if special_id(pieces[4].get("id")) != sep_id:
        raise bad
    types = [_token_id(piece.get("type_id", 0), f"post_processor.pair[{i}].type_id") for i, piece in enumerate(pieces)]
    type_a, type_b = set(types[:3]), set(types[3:])
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
            raise ValueError(f"added_tokens[{index}] needs a 'content' string")
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
        raise ValueError(f"must hold a JSON object, got {type(config).__name__}")
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
            cls_id, sep_id = post["cls"][1], post["sep"][1]
        except (KeyError, IndexError, TypeError):
            raise _unsupported("post_processor", post) from None
        cls_id, sep_id = _token_id(cls_id, "post_processor.cls[1]"), _token_id(sep_id, "post_processor.sep[1]")
        type_a, type_b = 0, 1
    else:
        raise _unsupported("post_processor", post_type)
    return dict(cls_id=cls_id, sep_id=sep_id, type_id_a=type_a, type_id_b=type_b)


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


def _pad_id(config: dict[str, Any], added: list[dict[str, Any]], vocab_map: dict[str, int]) -> int:
    """The padding section's pad_id, else the id of [PAD] (added token first), else 0."""
    padding = config.get("padding")
    if isinstance(padding, dict) and padding.get("pad_id") is not None:
        return _token_id(padding["pad_id"], "padding.pad_id")
    by_content = {t["content"]: t["id"] for t in added}
    return int(by_content.get("[PAD]", vocab_map.get("[PAD]", 0)))


def _model_strings(model: dict[str, Any]) -> dict[str, str]:
    """WordPiece's unk_token and continuing_subword_prefix, checked to be strings."""
    out = {}
    for key, default in (("unk_token", "[UNK]"), ("continuing_subword_prefix", "##")):
        value = model.get(key, default)
        if not isinstance(value, str):
            raise ValueError(f"model.{key} must be a string, got {value!r}")
        out[key] = value
    return out


def _native_kwargs(config: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """Validate a parsed tokenizer.json; return (kwargs for _native.WordPieceTokenizer, pad_id,
    the largest id it can produce)."""
    _check_components(config)
    template = _pair_template(config)
    model = config["model"]
    vocab = _vocab_list(model.get("vocab"))
    added = _added_tokens(config.get("added_tokens") or [], model["vocab"])
    max_chars = check_int(model.get("max_input_chars_per_word", 100), "model.max_input_chars_per_word",
                          minimum=0, maximum=MAX_INPUT_CHARS_PER_WORD,
                          maximum_name=f"{MAX_INPUT_CHARS_PER_WORD:,} (WordPiece is quadratic per word up to it)")
    kwargs = dict(
        vocab=vocab,
        **_model_strings(model),
        max_input_chars_per_word=max_chars,
        **_normalizer_options(config["normalizer"]),
        added_tokens=added,
        **template,
    )
    pad_id = _pad_id(config, added, model["vocab"])
    max_id = max(len(vocab) - 1, pad_id, template["cls_id"], template["sep_id"], *(t["id"] for t in added))
    return kwargs, pad_id, max_id


class Tokenizer:
    """Pair tokenizer for cross-encoders; build it with :meth:`from_file`."""

    def __init__(self, native: Any, pad_id: int = 0, max_token_id: int | None = None) -> None:
        """Wrap a ``crossrank._native.WordPieceTokenizer`` (prefer :meth:`from_file`)."""
        self._native = native
        self._pad_id = int(pad_id)
        self._max_token_id = max_token_id

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Load a Hugging Face tokenizer.json.

        Raises:
            ValueError: naming the file (and the field) when it is not UTF-8 JSON, not a BERT
                WordPiece tokenizer (the only kind supported for now), or holds values out of range.
        """
        with open(path, "rb") as f:
            data = f.read()
        try:
            config = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise ValueError(f"{os.fspath(path)} is not UTF-8 text (byte {error.start}: {error.reason}); "
                             "tokenizer.json must be UTF-8 JSON") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{os.fspath(path)} is not valid JSON: {error}") from None
        return cls.from_dict(config, source=os.fspath(path))

    @classmethod
    def from_dict(cls, config: dict[str, Any], *, source: str = "tokenizer.json") -> Tokenizer:
        """Build from the parsed contents of a tokenizer.json; errors name SOURCE and the field."""
        try:
            kwargs, pad_id, max_id = _native_kwargs(config)
            return cls(_native.WordPieceTokenizer(**kwargs), pad_id, max_id)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None

    @property
    def max_token_id(self) -> int | None:
        """The largest id this tokenizer can produce (None when built from a bare native tokenizer)."""
        return self._max_token_id

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
