"""Hybrid stage one: reciprocal-rank fusion of BM25 and dense rankings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._validation import check_positive_int
from crossrank.retrieval.base import Retriever
from crossrank.retrieval.corpus import Corpus
from crossrank.retrieval.dense import DenseRetriever
from crossrank.retrieval.lexical import BM25Retriever

__all__ = ["HybridRetriever", "reciprocal_rank_fusion"]

RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], *, k: int = RRF_K,
                           weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fuse rankings (lists of document indices, best first) by reciprocal rank.

    A document's score is ``sum_r weight_r / (k + rank_r)`` over the rankings it appears in
    (ranks start at 1). Returns (indices int64, scores float64) of every document that appears in
    some ranking, best first; ties go to the lower index. Cormack et al. (2009) use k = 60.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    weights = [1.0] * len(rankings) if weights is None else list(weights)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    parts_idx, parts_val = [], []
    for ranking, weight in zip(rankings, weights):
        ranking = np.asarray(ranking, dtype=np.int64)
        if np.unique(ranking).size != ranking.size:
            raise ValueError("a ranking lists a document twice")
        parts_idx.append(ranking)
        parts_val.append(weight / (k + np.arange(1, ranking.size + 1, dtype=np.float64)))
    if not parts_idx:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    idx = np.concatenate(parts_idx)
    docs, inverse = np.unique(idx, return_inverse=True)
    scores = np.zeros(docs.size, dtype=np.float64)
    np.add.at(scores, inverse, np.concatenate(parts_val))
    order = np.lexsort((docs, -scores))
    return docs[order], scores[order]


class HybridRetriever(Retriever):
    """BM25 and dense retrieval fused by reciprocal rank (RRF).

    Each retriever contributes its top ``depth`` documents (at least the ``k`` asked for); the
    stage-one score of a hit is its RRF score, ``1/(rrf_k + rank_bm25) + 1/(rrf_k + rank_dense)``
    (times the weights).
    """

    kind = "hybrid"

    def __init__(self, lexical: BM25Retriever, dense: DenseRetriever, *, rrf_k: int = RRF_K, depth: int = 100,
                 weights: tuple[float, float] = (1.0, 1.0)) -> None:
        if lexical.corpus.ids != dense.corpus.ids:
            raise ValueError("the BM25 and dense indexes hold different corpora")
        depth = check_positive_int(depth, "depth")
        self.lexical = lexical
        self.dense = dense
        self.corpus: Corpus = lexical.corpus
        self.rrf_k = rrf_k
        self.depth = depth
        self.weights = tuple(float(w) for w in weights)

    def __repr__(self) -> str:
        return f"HybridRetriever({len(self.corpus)} documents, rrf_k={self.rrf_k}, depth={self.depth})"

    @classmethod
    def build(cls, documents, *, encoder=None, rrf_k: int = RRF_K, depth: int = 100,
              weights: tuple[float, float] = (1.0, 1.0), bm25: dict[str, Any] | None = None,
              show_progress: bool = False) -> HybridRetriever:
        """Build both indexes over ``documents``; ``bm25`` holds options for BM25Retriever.build."""
        corpus = Corpus.from_documents(documents)
        lexical = BM25Retriever.build(corpus, show_progress=show_progress, **(bm25 or {}))
        dense = DenseRetriever.build(corpus, encoder=encoder, show_progress=show_progress)
        return cls(lexical, dense, rrf_k=rrf_k, depth=depth, weights=weights)

    def _fuse(self, first: np.ndarray, second: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        idx, scores = reciprocal_rank_fusion([first, second], k=self.rrf_k, weights=self.weights)
        return idx[:k], scores[:k].astype(np.float32)

    def _retrieve(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        depth = min(max(k, self.depth), len(self.corpus))
        return self._fuse(self.lexical._retrieve(query, depth)[0], self.dense._retrieve(query, depth)[0], k)

    def _retrieve_many(self, queries: Sequence[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        depth = min(max(k, self.depth), len(self.corpus))
        lex = self.lexical._retrieve_many(list(queries), depth)
        den = self.dense._retrieve_many(list(queries), depth)
        return [self._fuse(a[0], b[0], k) for a, b in zip(lex, den)]

    def _save(self, folder: Path) -> dict[str, Any]:
        self.lexical.save(folder / "bm25")
        self.dense.save(folder / "dense")
        return {"rrf_k": self.rrf_k, "depth": self.depth, "weights": list(self.weights)}

    @classmethod
    def _load(cls, folder: Path, params: dict[str, Any], encoder=None, mmap: bool = False) -> HybridRetriever:
        lexical = BM25Retriever.load(folder / "bm25", mmap=mmap)
        dense = DenseRetriever.load(folder / "dense", encoder=encoder, mmap=mmap)
        return cls(lexical, dense, rrf_k=params["rrf_k"], depth=params["depth"], weights=tuple(params["weights"]))
