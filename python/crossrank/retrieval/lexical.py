"""BM25 stage one through bm25s (the ``[retrieval]`` extra: bm25s, PyStemmer)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crossrank.retrieval.base import Retriever
from crossrank.retrieval.corpus import Corpus
from crossrank.retrieval.topk import select_topk

__all__ = ["BM25Retriever", "RETRIEVAL_INSTALL_HINT"]

RETRIEVAL_INSTALL_HINT = "pip install 'crossrank[retrieval]'"
_BM25S_DIR = "bm25s"


def _bm25s():
    try:
        import bm25s
    except ImportError as e:
        raise ImportError(f"BM25Retriever needs bm25s ({e}); install it with: {RETRIEVAL_INSTALL_HINT}") from e
    return bm25s


def _stemmer(name: str | None):
    if name is None:
        return None
    try:
        import Stemmer
    except ImportError as e:
        raise ImportError(f"stemmer={name!r} needs PyStemmer ({e}); install it with: {RETRIEVAL_INSTALL_HINT} "
                          "or pass stemmer=None") from e
    try:
        return Stemmer.Stemmer(name)
    except KeyError:
        raise ValueError(f"unknown stemmer {name!r}; PyStemmer has {sorted(Stemmer.algorithms())}") from None


class BM25Retriever(Retriever):
    """Okapi BM25 over a corpus, scored by bm25s.

    Build with :meth:`build`. Text is lowercased, split on word characters (``\\w\\w+``), English
    stopwords are dropped and words are Snowball-stemmed (``stemmer=None`` turns stemming off).
    Scores are exact for every document; the top ``k`` are chosen with ties to the lower index.
    """

    kind = "bm25"

    def __init__(self, corpus: Corpus, model: Any, *, stopwords: str | None, stemmer: str | None,
                 params: dict[str, Any]) -> None:
        self.corpus = corpus
        self._model = model
        self.stopwords = stopwords
        self.stemmer = stemmer
        self._stemmer = _stemmer(stemmer)
        self.params = params

    def __repr__(self) -> str:
        return f"BM25Retriever({len(self.corpus)} documents, stemmer={self.stemmer!r}, {self.params})"

    @classmethod
    def build(cls, documents, *, k1: float = 1.5, b: float = 0.75, delta: float = 0.5, method: str = "lucene",
              stopwords: str | None = "en", stemmer: str | None = "english",
              show_progress: bool = False) -> BM25Retriever:
        """Index ``documents`` (strings, ``(id, text)`` pairs or a ``{id: text}`` mapping).

        ``method`` and ``k1`` / ``b`` / ``delta`` are bm25s's (``"lucene"``, ``"robertson"``,
        ``"atire"``, ``"bm25l"``, ``"bm25+"``).
        """
        bm25s = _bm25s()
        corpus = Corpus.from_documents(documents)
        stem = _stemmer(stemmer)
        tokens = bm25s.tokenize(corpus.texts, lower=True, stopwords=stopwords, stemmer=stem, return_ids=True,
                                show_progress=show_progress)
        params = {"k1": k1, "b": b, "delta": delta, "method": method}
        model = bm25s.BM25(**params)
        model.index(tokens, show_progress=show_progress)
        return cls(corpus, model, stopwords=stopwords, stemmer=stemmer, params=params)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (float32, corpus order)."""
        tokens = self._tokenize([query])[0]
        if not tokens:
            return np.zeros(len(self.corpus), dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)

    def _tokenize(self, queries: list[str]) -> list[list[str]]:
        return _bm25s().tokenize(queries, lower=True, stopwords=self.stopwords, stemmer=self._stemmer,
                                 return_ids=False, show_progress=False)

    def _retrieve(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        idx, vals = select_topk(self.scores(query)[None, :], k)
        return idx[0], vals[0]

    def _save(self, folder: Path) -> dict[str, Any]:
        self._model.save(folder / _BM25S_DIR, show_progress=False)
        return {"stopwords": self.stopwords, "stemmer": self.stemmer, **self.params}

    @classmethod
    def _load(cls, folder: Path, params: dict[str, Any], mmap: bool = False) -> BM25Retriever:
        bm25s = _bm25s()
        params = dict(params)
        stopwords, stemmer = params.pop("stopwords"), params.pop("stemmer")
        model = bm25s.BM25.load(folder / _BM25S_DIR, mmap=mmap, show_progress=False, verbosity=0)
        return cls(Corpus.load(folder), model, stopwords=stopwords, stemmer=stemmer, params=params)
