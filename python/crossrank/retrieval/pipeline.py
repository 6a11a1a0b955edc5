"""Two-stage search: a stage-one retriever fills a candidate pool, a Reranker orders it."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossrank._validation import check_positive_int, check_text
from crossrank.long_documents import check_long_options
from crossrank.retrieval.base import CorpusTooSmallWarning, Hit, Retriever
from crossrank.retrieval.corpus import Corpus, DocId
from crossrank.retrieval.pool import DEDUPE_MODES, CandidatePool, TokenStore, build_pool, text_keys

__all__ = ["Pipeline", "Timings"]


@dataclass(frozen=True)
class Timings:
    """Seconds spent by the last search: stage one (retrieval + pool) and stage two (reranking)."""

    stage_one_s: float
    stage_two_s: float


class Pipeline:
    """Retrieve ``pool_size`` candidates, rerank them, return the best ``top_k``.

    Args:
        retriever: a stage-one :class:`Retriever` (BM25Retriever, DenseRetriever, HybridRetriever);
            None when only :meth:`rerank` of given candidates is used (then pass ``corpus``).
        reranker: a :class:`crossrank.Reranker`; None gives stage one only.
        pool_size: candidates handed to the reranker (capped at the corpus size, with a warning).
        top_k: hits returned by :meth:`search`.
        dedupe: None, ``"id"`` (drop repeated ids: matters for candidates given to :meth:`rerank`)
            or ``"text"`` (drop documents whose text repeats a better candidate's, up to case
            and whitespace).
        pretokenize: tokenize every document once, now, and score pools from token ids (a query
            then only tokenizes itself); scores are identical to the plain path.
        tokens: a ready :class:`TokenStore` (e.g. loaded from disk) instead of building one.
        corpus: the documents, when there is no retriever.
        long_documents: how the reranker scores documents longer than its window, with
            ``window``, ``stride``, ``max_windows``, ``max_tokens_per_doc``: the options of
            :meth:`crossrank.reranker.Reranker.score_pairs`. Other than plain truncation, pools are
            scored from their texts (the engine windows them), so ``pretokenize`` is not used.
    """

    def __init__(self, retriever: Retriever | None, reranker=None, *, pool_size: int = 100, top_k: int = 10,
                 dedupe: str | None = "id", pretokenize: bool = True, tokens: TokenStore | None = None,
                 corpus: Corpus | None = None, long_documents: str = "truncate", window: int | None = None,
                 stride: int | None = None, max_windows: int | None = None,
                 max_tokens_per_doc: int | None = None) -> None:
        if retriever is None and corpus is None:
            raise ValueError("give a retriever, or the corpus of the candidates you will rerank")
        self.retriever = retriever
        self.corpus = retriever.corpus if retriever is not None else Corpus.from_documents(corpus)
        pool_size = check_positive_int(pool_size, "pool_size")
        top_k = check_positive_int(top_k, "top_k")
        if dedupe not in DEDUPE_MODES:
            raise ValueError(f"dedupe must be one of {DEDUPE_MODES}, got {dedupe!r}")
        n = len(self.corpus)
        if pool_size > n:
            warnings.warn(f"pool_size={pool_size} is larger than the corpus ({n} documents); pools hold "
                          f"at most {n}", CorpusTooSmallWarning, stacklevel=2)
            pool_size = n
        self.pool_size = pool_size
        self.top_k = top_k
        self.dedupe = dedupe
        self.reranker = reranker
        self.long_documents = {"long_documents": long_documents, "window": window, "stride": stride,
                               "max_windows": max_windows, "max_tokens_per_doc": max_tokens_per_doc}
        limits = dict(max_length=reranker.max_length, special_tokens=reranker.tokenizer.special_count) if reranker \
            else {"max_length": 512}
        windowed = not check_long_options(**self.long_documents, **limits).plain
        pretokenize = pretokenize and not windowed
        self._keys = text_keys(self.corpus.texts) if dedupe == "text" else None
        self.tokens = tokens
        if tokens is not None:
            if len(tokens) != n:
                raise ValueError(f"the token store holds {len(tokens)} documents, the corpus {n}")
            if reranker is not None and tokens.tokenizer != TokenStore.digest(reranker):
                raise ValueError("the token store was made with another tokenizer than the reranker's")
        elif pretokenize and reranker is not None:
            self.tokens = TokenStore.build(reranker, self.corpus.texts)
        self.last_timings: Timings | None = None
        self.last_pool: CandidatePool | None = None

    def __repr__(self) -> str:
        return (f"Pipeline({self.retriever!r}, {self.reranker!r}, pool_size={self.pool_size}, top_k={self.top_k}, "
                f"dedupe={self.dedupe!r})")

    def candidates(self, query: str, *, pool_size: int | None = None) -> CandidatePool:
        """Stage one only: the deduplicated, capped candidate pool for ``query``."""
        if self.retriever is None:
            raise ValueError("this pipeline has no retriever; use rerank() with your candidates")
        check_text(query, "query")
        size = self.pool_size if pool_size is None else min(self.retriever.check_k(pool_size), len(self.corpus))
        fetch = size
        if self.dedupe == "text":  # duplicates are dropped after retrieval: fetch a margin
            fetch = min(len(self.corpus), size * 2)
        idx, scores = self.retriever._retrieve(query, fetch)
        return build_pool(idx, scores, cap=size, dedupe=self.dedupe, corpus=self.corpus, keys=self._keys)

    def score_pool(self, query: str, pool: CandidatePool) -> np.ndarray:
        """Reranker scores of a pool's documents (float32, pool order)."""
        if self.reranker is None:
            raise ValueError("this pipeline has no reranker")
        if len(pool) == 0:
            return np.empty(0, dtype=np.float32)
        if self.tokens is not None and self.long_documents["long_documents"] == "truncate" and \
                self.long_documents["max_tokens_per_doc"] is None:
            return self.reranker.score_token_ids(query, self.tokens.get(pool.indices))
        return self.reranker.score_pairs([(query, self.corpus.texts[i]) for i in pool.indices], **self.long_documents)

    def search(self, query: str, *, top_k: int | None = None, pool_size: int | None = None) -> list[Hit]:
        """The best ``top_k`` hits for ``query``: reranked pool, or stage one's order without a reranker.

        Hits are best first (ties: stage-one order). Timings land in :attr:`last_timings`, the
        pool in :attr:`last_pool`. With ``dedupe="text"`` stage one fetches twice the pool size and
        keeps the first ``pool_size`` distinct texts.
        """
        t0 = time.perf_counter()
        pool = self.candidates(query, pool_size=pool_size)
        t1 = time.perf_counter()
        self.last_pool = pool
        hits = self._finish(query, pool, top_k)
        self.last_timings = Timings(t1 - t0, time.perf_counter() - t1)
        return hits

    def rerank(self, query: str, ids: Sequence[DocId], scores: Sequence[float] | None = None, *,
               top_k: int | None = None) -> list[Hit]:
        """Stage two over candidates from elsewhere (e.g. a TREC run): ``ids`` best first.

        ``scores`` are their stage-one scores (default: none recorded, NaN). Deduplication and
        the pool cap apply as in :meth:`search`. Unknown ids raise KeyError.
        """
        check_text(query, "query")
        if isinstance(ids, (str, bytes)):
            raise TypeError("ids must be a sequence of document ids, not a single string")
        t0 = time.perf_counter()
        idx = np.fromiter((self.corpus.index_of(d) for d in ids), dtype=np.int64, count=len(ids))
        s = np.full(idx.size, np.nan, np.float32) if scores is None else np.asarray(scores, dtype=np.float32)
        pool = build_pool(idx, s, cap=self.pool_size, dedupe=self.dedupe, corpus=self.corpus, keys=self._keys)
        t1 = time.perf_counter()
        self.last_pool = pool
        hits = self._finish(query, pool, top_k)
        self.last_timings = Timings(t1 - t0, time.perf_counter() - t1)
        return hits

    def _finish(self, query: str, pool: CandidatePool, top_k: int | None) -> list[Hit]:
        top_k = self.top_k if top_k is None else check_positive_int(top_k, "top_k")
        texts, ids = self.corpus.texts, self.corpus.ids
        if self.reranker is None:
            return [Hit(ids[i], texts[i], int(i), float(s)) for i, s in zip(pool.indices[:top_k], pool.scores[:top_k])]
        rerank = self.score_pool(query, pool)
        order = np.argsort(-rerank, kind="stable")[:top_k]
        return [Hit(ids[pool.indices[j]], texts[pool.indices[j]], int(pool.indices[j]), float(pool.scores[j]),
                    float(rerank[j])) for j in order]
