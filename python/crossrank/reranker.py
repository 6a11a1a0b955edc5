"""The Reranker: score (query, document) pairs with a bundle's cross-encoder."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossrank import _native, _onnxruntime
from crossrank._system import available_cpu_count, physical_core_count
from crossrank._validation import (
    ACTIVATIONS,
    PRECISIONS,
    TRUNCATIONS,
    check_choice,
    check_positive_int,
    check_text,
    split_pairs,
)
from crossrank.bundle import Bundle
from crossrank.tokenizer import Tokenizer

# Pairs handed to the engine at once: bounds memory for huge inputs and paces the progress bar.
CHUNK_PAIRS = 8192
# Above this many pairs a progress bar shows unless show_progress says otherwise.
PROGRESS_THRESHOLD = 10_000


class TruncationWarning(UserWarning):
    """Some pairs were longer than max_length and lost tokens."""


class Cancelled(Exception):
    """A scoring call was stopped by :meth:`Reranker.cancel`."""


@dataclass(frozen=True)
class RankResult:
    """One ranked document: its position in the input, its score and its text."""

    index: int
    score: float
    document: str


@dataclass(frozen=True)
class ScoreStats:
    """What one score_pairs call did."""

    pairs: int
    truncated_pairs: int
    query_truncated_pairs: int
    real_tokens: int
    padded_tokens: int
    batches: int

    @property
    def padding_fraction(self) -> float:
        """Share of executed tokens that were padding."""
        return 1.0 - self.real_tokens / self.padded_tokens if self.padded_tokens else 0.0


class Reranker:
    """A cross-encoder loaded from a bundle, scoring pairs through the C++ engine.

    Args:
        bundle: folder written by ``crossrank export`` (or ``crossrank.default_model()``).
        precision: ``"int8"`` or ``"fp32"``; default: what the bundle recommends (int8 unless its
            export found int8 too lossy).
        max_length: tokens per pair including special tokens; default and upper bound: the bundle's.
        truncation: ``"only_second"`` keeps the query whole and cuts the document;
            ``"longest_first"`` matches sentence-transformers.
        activation: override the bundle's output activation (``"sigmoid"``, ``"softmax"``, ``"none"``).
        threads: cores to use; default: physical cores. At most the CPUs this process may use: more
            (and a concurrent_batches above them) is clipped with a RuntimeWarning.
        concurrent_batches: batches run side by side, each on threads // concurrent_batches
            ONNX Runtime threads. Default: one single-threaded run per core, which beat one run
            over all cores by ~20 % on 2 cores; pass 1 to spread each run over every core
            (lower latency for a single pair).
        max_padded_tokens: token budget of one batch (rows x padded length).
        max_batch_size: most pairs in one batch. Default 1: each pair runs alone, and pairs run side
            by side on all cores (concurrent_batches). On 2 cores that beat length-sorted batches
            for both precisions (see README), and it keeps dynamic int8 exact: its activation
            scales are taken over a whole batch, so in a batch a pair's score would depend on its
            batch mates. Raise it where wide batches pay (many cores, a GPU build).
        batch_overhead_tokens: what one more batch costs, in executed tokens; the planner trades
            it against padding when it cuts the length-sorted pairs into batches.

    One Reranker may be shared by several Python threads; scoring releases the GIL.
    """

    def __init__(self, bundle: str | Path | Bundle, *, precision: str | None = None,
                 max_length: int | None = None, truncation: str = "only_second",
                 activation: str | None = None, threads: int | None = None,
                 concurrent_batches: int | None = None,
                 max_padded_tokens: int = 16384, max_batch_size: int = 1,
                 batch_overhead_tokens: int = 64) -> None:
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
        self.precision = check_choice(precision or self.bundle.default_precision, PRECISIONS, "precision")
        self.max_length = self.bundle.max_length if max_length is None else max_length
        if not isinstance(self.max_length, int) or not 4 <= self.max_length <= self.bundle.max_length:
            raise ValueError(f"max_length must be an int from 4 to {self.bundle.max_length}, got {max_length!r}")
        self.truncation = check_choice(truncation, TRUNCATIONS, "truncation")
        self.activation = check_choice(activation or self.bundle.activation, ACTIVATIONS, "activation")
        self.max_batch_size = check_positive_int(max_batch_size, "max_batch_size")
        if max_padded_tokens < self.max_length:
            raise ValueError(f"max_padded_tokens must be at least max_length={self.max_length}, "
                             f"got {max_padded_tokens!r}")
        self.threads = threads or physical_core_count()
        self.concurrent_batches = concurrent_batches or self.threads
        if not 1 <= self.concurrent_batches <= self.threads:
            raise ValueError(f"concurrent_batches must be from 1 to threads={self.threads}, got {concurrent_batches!r}")
        self.threads, self.concurrent_batches = _cap_at_available_cpus(self.threads, self.concurrent_batches)

        _onnxruntime.ensure_loaded()
        self.tokenizer = Tokenizer.from_file(self.bundle.tokenizer_file)
        self._session = _native.OnnxSession(str(self.bundle.runtime_model_file(self.precision)),
                                            self.threads // self.concurrent_batches)
        self._engine = _native.Engine(self.tokenizer.native, self._session, self.max_length, truncation,
                                      max_padded_tokens, max_batch_size, batch_overhead_tokens,
                                      self.tokenizer.pad_id, self.concurrent_batches)
        self._local = threading.local()
        self._calls_lock = threading.Lock()
        self._calls: set[_native.CancelToken] = set()  # one token per scoring call in flight

    def __repr__(self) -> str:
        return (f"Reranker({str(self.bundle.path)!r}, precision={self.precision!r}, "
                f"max_length={self.max_length}, truncation={self.truncation!r})")

    @property
    def last_stats(self) -> ScoreStats | None:
        """Statistics of this thread's most recent score_pairs / rank call."""
        return getattr(self._local, "stats", None)

    def cancel(self) -> int:
        """Stop every scoring call running on this Reranker now; callable from any thread.

        Each call stops within milliseconds (between pairs, inside a batch between graph operators)
        and raises :class:`Cancelled`; calls that start afterwards run as usual, and the Reranker stays
        usable. Returns the number of calls it stopped. (Ctrl-C stops a call on the main thread the
        same way, with KeyboardInterrupt: the engine polls for it every 50 ms.)
        """
        with self._calls_lock:
            tokens = list(self._calls)
        for token in tokens:
            token.cancel()
        return len(tokens)

    def score_pairs(self, pairs: Sequence[tuple[str, str]], *,
                    show_progress: bool | None = None) -> np.ndarray:
        """Score (query, document) pairs.

        Returns a float32 array of scores in input order (after the bundle's activation).
        Empty strings are scored like any other text; an empty list gives an empty array.
        Pairs longer than max_length are truncated and reported (TruncationWarning, last_stats).
        """
        queries, docs = split_pairs(pairs)
        return self._score_texts(queries, docs, show_progress)

    def rank(self, query: str, documents: Sequence[str], *, top_k: int | None = None,
             show_progress: bool | None = None) -> list[RankResult]:
        """Score ``documents`` against ``query`` and return them best first (ties: input order)."""
        check_text(query, "query")
        if isinstance(documents, (str, bytes)):
            raise TypeError("documents must be a sequence of str, not a single string")
        docs = [check_text(doc, f"document {i}") for i, doc in enumerate(documents)]
        top_k = check_positive_int(top_k, "top_k", allow_none=True)
        scores = self._score_texts([query] * len(docs), docs, show_progress)
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [RankResult(int(i), float(scores[i]), docs[i]) for i in order]

    def encode_documents(self, documents: Sequence[str]) -> list[list[int]]:
        """Token ids of each document (no special tokens), to keep at index time.

        Pass them to :meth:`score_token_ids` so that a query only tokenizes itself.
        """
        if isinstance(documents, (str, bytes)):
            raise TypeError("documents must be a sequence of str, not a single string")
        return [self.tokenizer.encode(check_text(doc, f"document {i}")) for i, doc in enumerate(documents)]

    def score_token_ids(self, query: str, doc_ids: Sequence[Sequence[int]], *,
                        show_progress: bool | None = None) -> np.ndarray:
        """Score ``query`` against documents given as token ids (from :meth:`encode_documents`).

        Equal to ``score_pairs([(query, doc) ...])`` on the same documents, without re-tokenizing them.
        """
        check_text(query, "query")
        query_ids = [self.tokenizer.encode(query)]
        docs = list(doc_ids)  # the C++ side checks each document's ids, naming a bad one

        def run(start: int, end: int, callback, cancel):
            return self._engine.score_ids(query_ids, docs[start:end], callback, first_index=start, cancel=cancel)

        return self._score(len(docs), run, show_progress, stacklevel=3)

    def _score_texts(self, queries: list[str], docs: list[str], show_progress: bool | None) -> np.ndarray:
        def run(start: int, end: int, callback, cancel):
            return self._engine.score(queries[start:end], docs[start:end], callback, first_index=start,
                                      cancel=cancel)

        return self._score(len(queries), run, show_progress)

    def _score(self, total: int, run, show_progress: bool | None, stacklevel: int = 4) -> np.ndarray:
        """Feed the engine chunk by chunk; run(start, end, callback, cancel) -> (logits, stats)."""
        logits = np.empty((total, self.bundle.num_labels), dtype=np.float32)
        counts = np.zeros(5, dtype=np.int64)
        progress = _progress_bar(total, show_progress)
        token = _native.CancelToken()
        with self._calls_lock:
            self._calls.add(token)
        try:
            for start in range(0, total, CHUNK_PAIRS):
                end = min(start + CHUNK_PAIRS, total)
                callback = None
                if progress is not None:
                    callback = lambda done, _total, start=start: progress.update(start + done - progress.n)  # noqa: E731
                chunk_logits, stats = run(start, end, callback, token)
                if chunk_logits.shape[1] != self.bundle.num_labels:
                    raise ValueError(f"model returned {chunk_logits.shape[1]} labels, "
                                     f"bundle says {self.bundle.num_labels}")
                logits[start:end] = chunk_logits
                counts += [stats["truncated_pairs"], stats["query_truncated_pairs"], stats["real_tokens"],
                           stats["padded_tokens"], stats["batches"]]
        except _native.Cancelled:
            raise Cancelled("Reranker.cancel() stopped this call; the Reranker stays usable") from None
        finally:
            with self._calls_lock:
                self._calls.discard(token)
            if progress is not None:
                progress.close()
        self._local.stats = ScoreStats(total, *map(int, counts))
        if counts[0]:
            warnings.warn(
                f"{counts[0]} of {total} pairs were longer than max_length={self.max_length} tokens and were "
                f"truncated ({self.truncation}); see Reranker.last_stats", TruncationWarning, stacklevel=stacklevel)
        return self._activate(logits)

    def _activate(self, logits: np.ndarray) -> np.ndarray:
        if self.activation == "softmax":
            shifted = logits - logits.max(axis=1, keepdims=True)
            probs = np.exp(shifted)
            scores = probs[:, self.bundle.score_index] / probs.sum(axis=1)
        else:
            scores = logits[:, self.bundle.score_index]
            if self.activation == "sigmoid":
                scores = 0.5 * (1.0 + np.tanh(0.5 * scores))  # = 1 / (1 + e^-x), without overflow
        return np.ascontiguousarray(scores, dtype=np.float32)


def _cap_at_available_cpus(threads: int, concurrent_batches: int) -> tuple[int, int]:
    """threads and concurrent_batches clipped to the CPUs this process may use, with a warning:
    more only adds OS threads that take turns on the same cores."""
    cpus = available_cpu_count()
    capped = []
    for name, value in (("threads", threads), ("concurrent_batches", concurrent_batches)):
        if isinstance(value, int) and value > cpus:
            warnings.warn(f"{name}={value} is more than the {cpus} CPUs this process may use; using {cpus}",
                          RuntimeWarning, stacklevel=3)
            value = cpus
        capped.append(value)
    return capped[0], capped[1]


def _progress_bar(total: int, show_progress: bool | None):
    if show_progress is None:
        show_progress = total >= PROGRESS_THRESHOLD
    if not show_progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="crossrank", unit="pair")
