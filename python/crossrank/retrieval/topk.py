"""Exact top-k by inner product, without FAISS: blocked matrix products and partial selection.

The result is the first ``k`` entries of a full sort of each query's scores by (score descending,
document index ascending): ties go to the lower index, so the output is deterministic and equal to
``np.lexsort((arange(n), -scores))[:k]``. Memory is bounded by ``block_bytes`` (the score block and
its selection temporaries), not by the corpus size.
"""

from __future__ import annotations

import numpy as np

from crossrank._validation import check_positive_int

__all__ = ["exact_topk", "select_topk"]

# Score-block budget: rows x columns x (4 bytes of float32 scores + 8 of argpartition indices
# + 2 of boolean masks, with slack).
DEFAULT_BLOCK_BYTES = 64 << 20
_BYTES_PER_SCORE = 16


def select_topk(scores: np.ndarray, k: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` of each row of a 2-D score array: (indices + offset, scores), best first.

    Ties: lower index first. ``k`` must be between 1 and the number of columns.
    """
    rows, cols = scores.shape
    if k >= cols:
        idx = np.broadcast_to(np.arange(cols, dtype=np.int64), (rows, cols))
        vals = scores
    else:
        idx = np.argpartition(scores, cols - k, axis=1)[:, cols - k:]
        vals = np.take_along_axis(scores, idx, axis=1)
        # argpartition picks an arbitrary subset of the values tied with the k-th; make it the
        # lowest indices. Rows where the tie straddles the boundary are rare with real data.
        kth = vals.min(axis=1)
        above = np.count_nonzero(scores > kth[:, None], axis=1)
        tied = np.count_nonzero(scores == kth[:, None], axis=1)
        ambiguous = np.flatnonzero(above + tied > k)
        if ambiguous.size:
            idx = idx.copy()
            vals = vals.copy()
            for r in ambiguous:
                row = scores[r]
                keep = np.concatenate([np.flatnonzero(row > kth[r]),
                                       np.flatnonzero(row == kth[r])[:k - above[r]]])
                idx[r] = keep
                vals[r] = row[keep]
    order = np.lexsort((idx, -vals), axis=1)
    idx = np.take_along_axis(idx, order, axis=1) + offset
    vals = np.take_along_axis(vals, order, axis=1)
    return idx.astype(np.int64, copy=False), vals


def _merge(best_idx, best_vals, idx, vals, k):
    if best_idx is None:
        return idx, vals
    all_idx = np.concatenate([best_idx, idx], axis=1)
    all_vals = np.concatenate([best_vals, vals], axis=1)
    order = np.lexsort((all_idx, -all_vals), axis=1)[:, :k]
    return np.take_along_axis(all_idx, order, axis=1), np.take_along_axis(all_vals, order, axis=1)


def _as_matrix(name: str, array, ndim_ok: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(array)
    if arr.ndim not in ndim_ok:
        raise ValueError(f"{name} must be a {' or '.join(f'{n}-D' for n in ndim_ok)} array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must hold numbers (float32 embeddings), got dtype {arr.dtype}")
    return arr


def exact_topk(queries, corpus, k: int, *, block_bytes: int = DEFAULT_BLOCK_BYTES,
               check_finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` corpus rows with the largest inner product with each query, best first.

    Args:
        queries: ``(q, d)`` array, or one ``(d,)`` vector.
        corpus: ``(n, d)`` array (e.g. L2-normalised embeddings: inner product = cosine).
        k: how many per query, ``1 <= k <= n``; a larger k is an error (ValueError), not a clip.
        block_bytes: memory budget of one score block (corpus rows per block follow from it).
        check_finite: reject NaN / inf inputs and overflowing scores (NaN has no order).

    Returns ``(indices, scores)``: int64 and float32 arrays of shape ``(q, k)`` (``(k,)`` for one
    vector), rows sorted by score descending, ties by corpus index ascending. Scores are float32
    dot products computed block by block (other dtypes are converted one block at a time).
    """
    q = _as_matrix("queries", queries, (1, 2))
    c = _as_matrix("corpus", corpus, (2,))
    single = q.ndim == 1
    if single:
        q = q[None, :]
    n, dim = c.shape
    if n == 0:
        raise ValueError("the corpus is empty")
    if q.shape[1] != dim:
        raise ValueError(f"queries have dimension {q.shape[1]}, corpus rows {dim}")
    k = check_positive_int(k, "k")
    if k > n:
        raise ValueError(f"k={k} is larger than the corpus ({n} rows); ask for at most {n}")
    q = np.ascontiguousarray(q, dtype=np.float32)
    if check_finite and not np.isfinite(q).all():
        raise ValueError("queries hold NaN or inf")
    if block_bytes < 1:
        raise ValueError("block_bytes must be positive")

    rows_per_q_block = max(1, min(q.shape[0], block_bytes // (_BYTES_PER_SCORE * max(k, 1024))))
    out_idx = np.empty((q.shape[0], k), dtype=np.int64)
    out_vals = np.empty((q.shape[0], k), dtype=np.float32)
    for q0 in range(0, q.shape[0], rows_per_q_block):
        qb = q[q0:q0 + rows_per_q_block]
        cols = max(k, block_bytes // (_BYTES_PER_SCORE * qb.shape[0]))
        best_idx = best_vals = None
        for c0 in range(0, n, cols):
            cb = c[c0:c0 + cols]
            if cb.dtype != np.float32 or not cb.flags.c_contiguous:
                cb = np.ascontiguousarray(cb, dtype=np.float32)
            with np.errstate(invalid="ignore", over="ignore"):
                scores = qb @ cb.T
            # NaN / inf in the corpus always reach the scores (inf * 0 is NaN): check the smaller array.
            if check_finite and not np.isfinite(scores).all():
                raise ValueError(f"corpus rows {c0}..{c0 + cb.shape[0] - 1} hold NaN or inf "
                                 "(or their scores overflow float32)")
            idx, vals = select_topk(scores, min(k, cb.shape[0]), offset=c0)
            best_idx, best_vals = _merge(best_idx, best_vals, idx, vals, k)
        out_idx[q0:q0 + qb.shape[0]] = best_idx
        out_vals[q0:q0 + qb.shape[0]] = best_vals
    if single:
        return out_idx[0], out_vals[0]
    return out_idx, out_vals
