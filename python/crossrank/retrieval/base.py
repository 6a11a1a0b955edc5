"""What every stage-one retriever offers: retrieve (indices, scores), search (hits), save / load."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from crossrank._validation import check_text
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
    """A stage-one retriever over a :class:`Corpus`."""

    kind: ClassVar[str]
    corpus: Corpus

    def check_k(self, k: int, *, stacklevel: int = 3) -> int:
        """Validate k; a k larger than the corpus is clipped to it with a CorpusTooSmallWarning."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive int, got {k!r}")
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
        queries = [check_text(q, f"query {i}") for i, q in enumerate(queries)]
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
        """Write the index to ``folder`` (created; an existing index there is replaced)."""
        folder = Path(folder)
        if folder.exists():
            if not folder.is_dir():
                raise FileExistsError(f"{folder} exists and is not a folder")
            if any(folder.iterdir()) and not (folder / MANIFEST).is_file():
                raise FileExistsError(f"{folder} is not empty and holds no crossrank index; refusing to overwrite it")
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        self.corpus.save(folder)
        params = self._save(folder)
        manifest = {"format_version": FORMAT_VERSION, "kind": self.kind, "documents": len(self.corpus),
                    "params": params}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return folder

    @abstractmethod
    def _save(self, folder: Path) -> dict[str, Any]: ...

    @classmethod
    def load(cls, folder: str | os.PathLike[str], **kwargs: Any) -> Retriever:
        """Load an index written by :meth:`save` (``kwargs`` go to the retriever's loader)."""
        manifest = read_manifest(folder)
        if cls is not Retriever and manifest["kind"] != cls.kind:
            raise ValueError(f"{folder} holds a {manifest['kind']!r} index, not {cls.kind!r}; "
                             "use crossrank.retrieval.load_retriever to load any kind")
        return _kinds()[manifest["kind"]]._load(Path(folder), manifest["params"], **kwargs)

    @classmethod
    @abstractmethod
    def _load(cls, folder: Path, params: dict[str, Any], **kwargs: Any) -> Retriever: ...


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no crossrank index ({MANIFEST} missing)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported index format {manifest.get('format_version')!r}")
    if manifest.get("kind") not in _kinds():
        raise ValueError(f"{path}: unknown retriever kind {manifest.get('kind')!r}")
    return manifest


def _kinds() -> dict[str, type[Retriever]]:
    from crossrank.retrieval.dense import DenseRetriever
    from crossrank.retrieval.hybrid import HybridRetriever
    from crossrank.retrieval.lexical import BM25Retriever

    return {c.kind: c for c in (BM25Retriever, DenseRetriever, HybridRetriever)}


def load_retriever(folder: str | os.PathLike[str], **kwargs: Any) -> Retriever:
    """Load any index written by ``Retriever.save`` (BM25, dense or hybrid)."""
    return Retriever.load(folder, **kwargs)
