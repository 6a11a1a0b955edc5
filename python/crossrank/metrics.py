"""Ranking metrics, one implementation each, for the export's fidelity report and ``crossrank eval``.

- Agreement of one list of scores with another: Kendall's tau-b, Spearman's rho, top-k overlap.
- Quality of a ranking against judgements, as trec_eval defines them (tests check them against
  ir-measures): nDCG@k with linear gains and the ideal made of every judged-relevant document of
  the query; reciprocal rank and recall with a relevance level.

numpy and the standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["TOP_K", "kendall_tau", "ndcg", "ndcg_at_k", "recall", "reciprocal_rank", "spearman", "topk_overlap"]

TOP_K = 10


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), 1-based."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    sorted_x = x[order]
    i = 0
    n = len(x)
    while i < n:
        j = i
        while j + 1 < n and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson on average ranks). NaN when either side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if len(a) < 2:
        return float("nan")
    ra, rb = _ranks(a) - (len(a) + 1) / 2.0, _ranks(b) - (len(b) + 1) / 2.0
    den = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / den if den > 0 else float("nan")


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either ranking accounted for, as scipy.stats.kendalltau).

    O(n²) in memory and time: meant for reranking pools (hundreds of candidates), not millions.
    NaN when either side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    n = len(a)
    if n < 2:
        return float("nan")
    iu = np.triu_indices(n, k=1)
    da = np.sign(a[:, None] - a[None, :])[iu]
    db = np.sign(b[:, None] - b[None, :])[iu]
    s = float(np.sum(da * db))
    n_a = float(np.count_nonzero(da))  # pairs not tied in a
    n_b = float(np.count_nonzero(db))
    den = math.sqrt(n_a * n_b)
    return s / den if den > 0 else float("nan")


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties keep input order."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]


def topk_overlap(a: Sequence[float], b: Sequence[float], k: int = TOP_K) -> float:
    """|top-k(a) ∩ top-k(b)| / min(k, n): the share of one ranking's top k the other keeps."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    m = min(k, len(a))
    if m == 0:
        return float("nan")
    return len(set(_top(a, m).tolist()) & set(_top(b, m).tolist())) / m


def ndcg(ranking: Sequence[str], judgements: Mapping[str, int], k: int = TOP_K) -> float:
    """nDCG@k of RANKING (doc ids, best first), trec_eval style: gain = grade (linear), discount
    log2(rank + 1), the ideal made of all judged documents with grade > 0 (also those not ranked).
    NaN when the query has no relevant judgement."""
    ideal = sorted((g for g in judgements.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return float("nan")
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(judgements.get(d, 0) for d in ranking[:k]) if g > 0)
    return dcg / idcg


def ndcg_at_k(scores: Sequence[float], doc_ids: Sequence[str], judgements: Mapping[str, int],
              k: int = TOP_K) -> float:
    """:func:`ndcg` of DOC_IDS ranked by SCORES (best first, ties in input order)."""
    return ndcg([doc_ids[j] for j in _top(np.asarray(scores), k)], judgements, k)


def reciprocal_rank(ranking: Sequence[str], judgements: Mapping[str, int], k: int = TOP_K,
                    relevance_level: int = 1) -> float:
    """1 / rank of the first document of RANKING[:k] graded RELEVANCE_LEVEL or more; 0 if none is."""
    for rank, doc in enumerate(ranking[:k], start=1):
        if judgements.get(doc, 0) >= relevance_level:
            return 1.0 / rank
    return 0.0


def recall(ranking: Sequence[str], judgements: Mapping[str, int], k: int, relevance_level: int = 1) -> float:
    """Share of the documents graded RELEVANCE_LEVEL or more that RANKING[:k] holds; 0 when the
    query has none."""
    relevant = {d for d, g in judgements.items() if g >= relevance_level}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0
