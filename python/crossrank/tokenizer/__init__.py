"""Pair tokenizers backed by the C++ core, bit-identical to Hugging Face ``tokenizers``.

:meth:`Tokenizer.from_file` reads a tokenizer.json and picks the algorithm from its ``model.type``
(:mod:`crossrank.tokenizer.loaders`): WordPiece (:mod:`~crossrank.tokenizer.wordpiece`) and the others
listed there. The pair template comes from the post_processor (:mod:`~crossrank.tokenizer.post_processor`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from crossrank._validation import TRUNCATIONS, check_choice, check_text, split_pairs
from crossrank.tokenizer.loaders import load_native


class Encoding:
    """One encoded (query, document) pair: ``[CLS] query [SEP] document [SEP]`` (or the model's template).

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


class Tokenizer:
    """Pair tokenizer for cross-encoders; build it with :meth:`from_file`."""

    def __init__(self, native: Any, pad_id: int = 0, max_token_id: int | None = None,
                 algorithm: str | None = None) -> None:
        """Wrap a ``crossrank._native.PairTokenizer`` (prefer :meth:`from_file`)."""
        self._native = native
        self._pad_id = int(pad_id)
        self._max_token_id = max_token_id
        self._algorithm = algorithm

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Tokenizer:
        """Load a Hugging Face tokenizer.json.

        Raises:
            ValueError: naming the file (and the field) when it is not UTF-8 JSON, of an algorithm or
                with a component crossrank does not read (the message says what it found and what
                is supported), or holds values out of range.
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
            spec = load_native(config)
        except ValueError as error:
            raise ValueError(f"{source}: {error}") from None
        return cls(spec.native, spec.pad_id, spec.max_token_id, spec.algorithm)

    @property
    def algorithm(self) -> str | None:
        """tokenizer.json's model.type: "WordPiece", "Unigram" or "BPE" (None for a bare native tokenizer)."""
        return self._algorithm

    @property
    def special_count(self) -> int:
        """Special tokens the pair template adds (3 for BERT's, 4 for RoBERTa's): max_length must exceed it."""
        return int(self._native.special_count)

    @property
    def max_token_id(self) -> int | None:
        """The largest id this tokenizer can produce (None when built from a bare native tokenizer)."""
        return self._max_token_id

    @property
    def native(self) -> Any:
        """The ``crossrank._native.PairTokenizer`` (shared with the C++ engine)."""
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
        """Encode (query, document) pairs with the model's template (``[CLS] query [SEP] document [SEP]``
        for BERT, ``<s> query </s></s> document </s>`` for XLM-R).

        ``max_length`` counts the special tokens and must exceed them. ``truncation`` is
        ``"only_second"`` (cut the document; when the query alone does not leave room for one
        document token, fall back to ``"longest_first"`` and set ``query_truncated``) or
        ``"longest_first"`` (Hugging Face's, as sentence-transformers uses).
        """
        check_choice(truncation, TRUNCATIONS, "truncation")
        if isinstance(max_length, bool) or not isinstance(max_length, int):
            raise TypeError(f"max_length must be int, got {type(max_length).__name__}")
        least = self.special_count + 1
        if max_length < least:
            raise ValueError(f"max_length must be >= {least} ({least - 1} special tokens + 1), got {max_length}")
        queries, docs = split_pairs(pairs)
        raw = self._native.encode_pairs(queries, docs, max_length, truncation, pair_names=True)
        return [Encoding(*item) for item in raw]
