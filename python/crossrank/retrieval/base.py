"""What every stage-one retriever offers: retrieve (indices, scores), search (hits), save / load."""

from __future__ import annotations

import json
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crossrank._folders import atomic_folder
from crossrank._validation import check_positive_int, check_text, check_texts
from crossrank.retrieval.corpus import Corpus, DocId

__all__ = ["CorpusTooSmallWarning", "Hit", "Retriever", "load_retriever"]

MANIFEST = "retriever.json"
FORMAT_VERSION = 1


class CorpusTooSmallWarning(UserWarning):
    """More documents were asked for than the corpus holds; all of them are returned."""


@dataclass(frozen=True)
class Hit:
    """One retrieved document.

    ``stage_one_score`` is the retriever's score (BM25, cosine, or fused RRF score);
    ``stage_two_score`` the reranker's, or None when there was no stage two. ``index`` is the
    document's position in the corpus.
    """

    id: DocId
    text: str
    index: int
    stage_one_score: float
    stage_two_score: float | None = None

    @property
    def score(self) -> float:
        """The final score: stage two's when there was one, else stage one's."""
        return self.stage_one_score if self.stage_two_score is None else self.stage_two_score


class Retriever(ABC):
    """A stage-one retriever over a :class:`Corpus`.

    Every concrete subclass names its ``kind`` and is registered under it when it is defined
    (``__init_subclass__``), so :func:`load_retriever` finds it without this module importing it.
    """

    kind: ClassVar[str]
    corpus: Corpus
    _kinds: ClassVar[dict[str, type[Retriever]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None:
            taken = Retriever._kinds.get(kind)
            if taken is not None and (taken.__module__, taken.__qualname__) != (cls.__module__, cls.__qualname__):
                raise TypeError(f"retriever kind {kind!r} is taken by {taken.__module__}.{taken.__qualname__}")
            Retriever._kinds[kind] = cls  # a reloaded module re-registers its class

    def check_k(self, k: int, *, stacklevel: int = 3) -> int:
        """Validate k; a k larger than the corpus is clipped to it with a CorpusTooSmallWarning."""
        k = check_positive_int(k, "k")
        n = len(self.corpus)
        if k > n:
            warnings.warn(f"k={k} is larger than the corpus ({n} documents); returning all {n}",
                          CorpusTooSmallWarning, stacklevel=stacklevel)
            return n
        return int(k)

    def retrieve(self, query: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` documents for ``query``: (corpus indices int64, scores float32), best first.

        Ties go to the lower corpus index. ``k`` above the corpus size is clipped (with a warning).
        """
        check_text(query, "query")
        return self._retrieve(query, self.check_k(k))

    def retrieve_many(self, queries: Sequence[str], k: int = 10) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`retrieve` for several queries (subclasses may batch)."""
        if isinstance(queries, (str, bytes)):
            raise TypeError("queries must be a sequence of str, not a single string")
        queries = check_texts(queries, "query")
        k = self.check_k(k)
        return self._retrieve_many(queries, k)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Top ``k`` documents as :class:`Hit` objects (stage_two_score None)."""
        check_text(query, "query")
        idx, scores = self._retrieve(query, self.check_k(k))
        return [Hit(self.corpus.ids[i], self.corpus.texts[i], int(i), float(s)) for i, s in zip(idx, scores)]

    @abstractmethod
    def _retrieve(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def _retrieve_many(self, queries: list[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [self._retrieve(q, k) for q in queries]

    # ---------------------------------------------------------------- persistence

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the index to ``folder``, atomically.

        An existing index there is replaced; any other non-empty folder is refused
        (FileExistsError). Returns the folder's path.
        """
        with atomic_folder(folder, MANIFEST, "index") as tmp:
            self.corpus.save(tmp)
            params = self._save(tmp)
            manifest = {"format_version": FORMAT_VERSION, "kind": self.kind, "documents": len(self.corpus),
                        "params": params}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return Path(folder)

    @abstractmethod
    def _save(self, folder: Path) -> dict[str, Any]: ...

    @classmethod
    def load(cls, folder: str | os.PathLike[str], **kwargs: Any) -> Retriever:
        """Load an index written by :meth:`save` (``kwargs`` go to the retriever's loader)."""
        manifest = read_manifest(folder)
        if cls is not Retriever and manifest["kind"] != cls.kind:
            raise ValueError(f"{folder} holds a {manifest['kind']!r} index, not {cls.kind!r}; "
                             "use crossrank.retrieval.load_retriever to load any kind")
        return Retriever._kinds[manifest["kind"]]._load(Path(folder), manifest["params"], **kwargs)

    @classmethod
    @abstractmethod
    def _load(cls, folder: Path, params: dict[str, Any], **kwargs: Any) -> Retriever: ...


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``retriever.json`` of an index folder, with its format and kind checked."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no crossrank index ({MANIFEST} missing)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported index format {manifest.get('format_version')!r}")
    if manifest.get("kind") not in Retriever._kinds:
        raise ValueError(f"{path}: unknown retriever kind {manifest.get('kind')!r}")
    return manifest


def load_retriever(folder: str | os.PathLike[str], **kwargs: Any) -> Retriever:
    """Load any index written by ``Retriever.save`` (BM25, dense or hybrid)."""
    return Retriever.load(folder, **kwargs)
