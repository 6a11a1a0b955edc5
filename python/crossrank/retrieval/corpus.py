"""The documents a retriever searches: ids and texts, validated once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Union

DocId = Union[str, int]
CORPUS_FILE = "corpus.jsonl"


def _check_id(value: object, position: int) -> DocId:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"document {position}: id must be str or int, got {type(value).__name__}")
    return value


def _check_doc_text(value: object, position: int) -> str:
    if not isinstance(value, str):
        kind = "None" if value is None else type(value).__name__
        raise TypeError(f"document {position}: text must be str, got {kind}")
    return value


class Corpus:
    """Documents with unique ids, in a fixed order (a document's index is its position).

    Build it with :meth:`from_documents` from strings (ids are then the positions 0..n-1), from
    ``(id, text)`` pairs, or from a ``{id: text}`` mapping. Ids are str or int and must be unique.
    """

    __slots__ = ("ids", "texts", "_index")

    def __init__(self, ids: Sequence[DocId], texts: Sequence[str]) -> None:
        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids for {len(texts)} texts")
        if not texts:
            raise ValueError("the corpus is empty: give at least one document")
        self.ids: list[DocId] = [_check_id(d, i) for i, d in enumerate(ids)]
        self.texts: list[str] = [_check_doc_text(t, i) for i, t in enumerate(texts)]
        index: dict[DocId, int] = {}
        for position, doc_id in enumerate(self.ids):
            first = index.setdefault(doc_id, position)
            if first != position:
                raise ValueError(f"duplicate document id {doc_id!r} (documents {first} and {position}); "
                                 "ids must be unique")
        self._index = index

    @classmethod
    def from_documents(cls, documents: Corpus | Mapping[DocId, str] | Iterable[str | tuple[DocId, str]]) -> Corpus:
        """Strings, ``(id, text)`` pairs (not mixed) or a ``{id: text}`` mapping."""
        if isinstance(documents, Corpus):
            return documents
        if isinstance(documents, (str, bytes)):
            raise TypeError("documents must be a sequence of str or (id, text) pairs, not a single string")
        if isinstance(documents, Mapping):
            return cls(list(documents.keys()), list(documents.values()))
        if not isinstance(documents, Iterable):
            raise TypeError(f"documents must be a sequence of str or (id, text) pairs, got {type(documents).__name__}")
        docs = list(documents)
        if not docs:
            raise ValueError("the corpus is empty: give at least one document")
        if isinstance(docs[0], str):
            for i, doc in enumerate(docs):
                if not isinstance(doc, str):
                    raise TypeError(f"document {i}: expected str like document 0, got {type(doc).__name__} "
                                    "(give all documents as str or all as (id, text) pairs)")
            return cls(list(range(len(docs))), docs)
        ids, texts = [], []
        for i, doc in enumerate(docs):
            if isinstance(doc, (str, bytes)) or not isinstance(doc, Sequence) or len(doc) != 2:
                kind = "None" if doc is None else type(doc).__name__
                raise TypeError(f"document {i}: expected str or an (id, text) pair, got {kind}"
                                + (" (give all documents as str or all as (id, text) pairs)" if isinstance(doc, str)
                                   else ""))
            ids.append(doc[0])
            texts.append(doc[1])
        return cls(ids, texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"Corpus({len(self)} documents)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Corpus) and self.ids == other.ids and self.texts == other.texts

    def index_of(self, doc_id: DocId) -> int:
        """Position of the document with this id (KeyError if absent)."""
        try:
            return self._index[doc_id]
        except KeyError:
            raise KeyError(f"no document with id {doc_id!r}") from None

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._index

    def save(self, folder: str | Path) -> None:
        with open(Path(folder) / CORPUS_FILE, "w", encoding="utf-8") as f:
            for doc_id, text in zip(self.ids, self.texts):
                f.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> Corpus:
        ids, texts = [], []
        with open(Path(folder) / CORPUS_FILE, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                ids.append(row["id"])
                texts.append(row["text"])
        return cls(ids, texts)
