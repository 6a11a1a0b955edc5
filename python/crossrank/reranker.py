"""The Reranker: score (query, document) pairs with a bundle's cross-encoder."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crossrank import _native, _onnxruntime
from crossrank._reranker_setup import cap_at_available_cpus, check_batching, load_session, progress_bar
from crossrank._system import physical_core_count
from crossrank._validation import (
    ACTIVATIONS,
    INT32_MAX,
    PRECISIONS,
    TRUNCATIONS,
    check_choice,
    check_int,
    check_non_negative_int,
    check_positive_int,
    check_text,
    split_pairs,
)
from crossrank.bundle import Bundle, checksums_wanted
from crossrank.long_documents import LongDocumentOptions, aggregate, check_long_options, warning_line
from crossrank.tokenizer import Tokenizer

# Pairs handed to the engine at once: bounds memory for huge inputs and paces the progress bar.
CHUNK_PAIRS = 8192


class TruncationWarning(UserWarning):
    """Some pairs were longer than max_length and lost tokens."""


class Cancelled(Exception):
    """A scoring call was stopped by :meth:`Reranker.cancel`."""


@dataclass(frozen=True)
class RankResult:
    """One ranked document: its position in the input, its score and its text.

    With windows (``long_documents`` other than "truncate"): ``window`` is the index of its best
    window and ``span`` that window's [begin, end) in the document's tokens; None otherwise.
    """

    index: int
    score: float
    document: str
    window: int | None = None
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class ScoreStats:
    """What one score_pairs call did."""

    pairs: int
    truncated_pairs: int
    query_truncated_pairs: int
    real_tokens: int
    padded_tokens: int
    batches: int
    windows: int = 0  # pairs the model ran: one per document, or one per window
    truncated_documents: int = 0  # documents with tokens no score saw
    capped_documents: int = 0  # documents cut at max_tokens_per_doc
    max_windows_documents: int = 0  # documents with more windows than max_windows (firstp: than one)

    @property
    def padding_fraction(self) -> float:
        """Share of executed tokens that were padding."""
        return 1.0 - self.real_tokens / self.padded_tokens if self.padded_tokens else 0.0


class Reranker:
    """A cross-encoder loaded from a bundle, scoring pairs through the C++ engine.

    Args:
        bundle: folder written by ``crossrank export`` (or ``crossrank.default_model()``).
        precision: one of crossrank._validation.PRECISIONS (``"int8_token"`` needs AVX512-VNNI,
            ``"bf16"`` AVX512-BF16); default: the rung the bundle's gate chose (its default_precision).
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
            for both precisions (see README). Raise it where wide batches pay (many cores, a GPU
            build): "int8_static" and "fp32" score a pair the same alone or in any batch; "int8"
            (dynamic activation scales, taken over the whole batch) does not, and warns.
        batch_overhead_tokens: what one more batch costs, in executed tokens; the planner trades
            it against padding when it cuts the length-sorted pairs into batches.
        verify_checksums: check the files it reads (tokenizer, graph) against the SHA-256 sums the
            export recorded in crossrank.json, and refuse a corrupt bundle. Default (None):
            ``$CROSSRANK_VERIFY_CHECKSUMS`` (``0`` turns it off), else on. It hashes the graph while
            ONNX Runtime loads it. Bundles without checksums load unchecked.

    None means the default for the options whose default is None; every value is checked, and a
    wrong one raises ValueError naming the argument. A bundle that is corrupt, or whose files do not fit together
    (tokenizer ids past the graph's vocabulary, max_length past its positions), raises ValueError
    naming the file.

    One Reranker may be shared by several Python threads; scoring releases the GIL.
    """

    def __init__(self, bundle: str | Path | Bundle, *, precision: str | None = None,
                 max_length: int | None = None, truncation: str = "only_second",
                 activation: str | None = None, threads: int | None = None,
                 concurrent_batches: int | None = None,
                 max_padded_tokens: int = 16384, max_batch_size: int = 1,
                 batch_overhead_tokens: int = 64, verify_checksums: bool | None = None) -> None:
        verify = checksums_wanted(verify_checksums)
        if not isinstance(bundle, (str, os.PathLike, Bundle)):
            raise TypeError(f"bundle must be a folder path or a crossrank.bundle.Bundle, got {type(bundle).__name__}")
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
        self._check_options(precision, max_length, truncation, activation, threads, concurrent_batches)
        self.threads, self.concurrent_batches = cap_at_available_cpus(self.threads, self.concurrent_batches)
        max_padded_tokens = check_int(max_padded_tokens, "max_padded_tokens", minimum=self.max_length,
                                      maximum=INT32_MAX)
        max_batch_size = self.max_batch_size = check_batching(self.precision, check_int(
            max_batch_size, "max_batch_size", minimum=1, maximum=INT32_MAX))
        batch_overhead_tokens = check_non_negative_int(batch_overhead_tokens, "batch_overhead_tokens",
                                                       maximum=INT32_MAX)

        _onnxruntime.ensure_loaded()
        if verify:
            self.bundle.verify_checksums([self.bundle.tokenizer_file])
        self.tokenizer = Tokenizer.from_file(self.bundle.tokenizer_file)
        self._session = load_session(self.bundle, self.precision, self.threads // self.concurrent_batches, verify)
        if self.tokenizer.max_token_id is not None:
            self.bundle.check_token_ids(self.tokenizer.max_token_id, self.bundle.runtime_model_file(self.precision))
        self._engine = _native.Engine(self.tokenizer.native, self._session, self.max_length, self.truncation,
                                      max_padded_tokens, max_batch_size, batch_overhead_tokens,
                                      self.tokenizer.pad_id, self.concurrent_batches)
        self._local = threading.local()
        self._calls_lock = threading.Lock()
        self._calls: set[_native.CancelToken] = set()  # one token per scoring call in flight

    def _check_options(self, precision: object, max_length: object, truncation: object, activation: object,
                       threads: object, concurrent_batches: object) -> None:
        """Check the options that have a default (None) and set them; ValueError names the argument."""
        bundle = self.bundle
        self.precision = check_choice(bundle.precision_here() if precision is None else precision,
                                      PRECISIONS, "precision")
        self.max_length = check_int(max_length, "max_length", minimum=4, maximum=bundle.max_length,
                                    allow_none=True, maximum_name=f"the bundle's max_length={bundle.max_length}")
        if self.max_length is None:
            self.max_length = bundle.max_length
        self.truncation = check_choice(truncation, TRUNCATIONS, "truncation")
        self.activation = check_choice(bundle.activation if activation is None else activation,
                                       ACTIVATIONS, "activation")
        threads = check_int(threads, "threads", minimum=1, maximum=INT32_MAX, allow_none=True)
        self.threads = physical_core_count() if threads is None else threads
        self.concurrent_batches = check_int(concurrent_batches, "concurrent_batches", minimum=1,
                                            maximum=self.threads, allow_none=True,
                                            maximum_name=f"threads={self.threads}")
        if self.concurrent_batches is None:
            self.concurrent_batches = self.threads

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

    def score_pairs(self, pairs: Sequence[tuple[str, str]], *, show_progress: bool | None = None,
                    long_documents: str = "truncate", window: int | None = None, stride: int | None = None,
                    max_windows: int | None = None, max_tokens_per_doc: int | None = None) -> np.ndarray:
        """Score (query, document) pairs.

        Returns a float32 array of scores in input order (after the bundle's activation).
        Empty strings are scored like any other text; an empty list gives an empty array.
        Pairs longer than max_length are truncated and reported (TruncationWarning, last_stats).

        Args:
            pairs: (query, document) tuples.
            show_progress: a progress bar (default: from 10,000 pairs).
            long_documents: "truncate" (default: the document is cut to what fits after the query);
                or the document's token ids are cut into windows, each scored with the whole query,
                all in one engine call, and its score is its first window's ("firstp"), its best
                window's ("maxp") or their mean ("meanp").
            window: document tokens per window, at most max_length less the special tokens; default: what fits after
                each pair's query (a longer window is shrunk to that, as is its stride).
            stride: tokens from one window's start to the next (windows overlap by window - stride);
                default three quarters of the window, so a passage up to a quarter window long that a
                window boundary cuts is whole in the next window, for a third more windows than none.
            max_windows: windows per document at most (default 16); the rest of a document is not
                tokenized, and such documents are counted in last_stats and the warning.
            max_tokens_per_doc: cut each document to this many tokens first (as Cohere's API does);
                a huge text is tokenized only that far.

        Raises:
            ValueError: naming the option that is out of range (window longer than the model's
                limit, stride longer than the window, max_windows < 1, ...).
        """
        options = check_long_options(long_documents, window, stride, max_windows, max_tokens_per_doc,
                                     max_length=self.max_length, special_tokens=self.tokenizer.special_count)
        queries, docs = split_pairs(pairs)
        if options.plain:
            return self._score_texts(queries, docs, show_progress)
        return self._score_windows(queries, docs, options, show_progress)[0]

    def rank(self, query: str, documents: Sequence[str], *, top_k: int | None = None,
             show_progress: bool | None = None, long_documents: str = "truncate", window: int | None = None,
             stride: int | None = None, max_windows: int | None = None,
             max_tokens_per_doc: int | None = None) -> list[RankResult]:
        """Score ``documents`` against ``query`` and return them best first (ties: input order).

        The long-document options are :meth:`score_pairs`'; with windows each RankResult names its
        best window (``window``, ``span``).
        """
        check_text(query, "query")
        if isinstance(documents, (str, bytes)):
            raise TypeError("documents must be a sequence of str, not a single string")
        docs = [check_text(doc, f"document {i}") for i, doc in enumerate(documents)]
        top_k = check_positive_int(top_k, "top_k", allow_none=True)
        options = check_long_options(long_documents, window, stride, max_windows, max_tokens_per_doc,
                                     max_length=self.max_length, special_tokens=self.tokenizer.special_count)
        if options.plain:
            scores = self._score_texts([query] * len(docs), docs, show_progress)
            order = np.argsort(-scores, kind="stable")[:top_k]
            return [RankResult(int(i), float(scores[i]), docs[i]) for i in order]
        scores, best, spans = self._score_windows([query] * len(docs), docs, options, show_progress)
        order = np.argsort(-scores, kind="stable")[:top_k]
        windowed = options.mode != "truncate"
        return [RankResult(int(i), float(scores[i]), docs[i], int(best[i]) if windowed else None,
                           (int(spans[i][0]), int(spans[i][1])) if windowed else None) for i in order]

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

    def token_id_logits(self, query_ids: Sequence[Sequence[int]],
                        doc_ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, dict[str, int]]:
        """Raw logits ``[pairs, labels]`` of token-id pairs, one query per document.

        For callers that tokenize once and mix queries in one engine call (the server's micro-batches):
        pair ``i`` is ``(query_ids[i], doc_ids[i])`` (ids without special tokens, from
        ``tokenizer.encode``). Truncation follows this Reranker's settings and is reported in the
        returned stats (``truncated_pairs`` ...), not warned. Apply :meth:`activate` for scores equal to
        :meth:`score_pairs` on the same texts.

        Raises:
            ValueError: when the two lists differ in length (or an id is out of the vocabulary).
        """
        queries, docs = list(query_ids), list(doc_ids)
        if len(queries) != len(docs):
            raise ValueError(f"query_ids and doc_ids must be as long, got {len(queries)} and {len(docs)}")
        if not docs:
            return np.empty((0, self.bundle.num_labels), dtype=np.float32), {}
        logits, stats = self._engine.score_ids(queries, docs)
        return logits, stats

    def activate(self, logits: np.ndarray) -> np.ndarray:
        """Scores from raw logits ``[pairs, labels]``: this Reranker's activation applied to the score logit."""
        return self._activate(np.asarray(logits, dtype=np.float32).reshape(-1, self.bundle.num_labels))

    def _score_texts(self, queries: list[str], docs: list[str], show_progress: bool | None) -> np.ndarray:
        def run(start: int, end: int, callback, cancel):
            return self._engine.score(queries[start:end], docs[start:end], callback, first_index=start,
                                      cancel=cancel)

        return self._score(len(queries), run, show_progress)

    def _score_windows(self, queries: list[str], docs: list[str], options: LongDocumentOptions,
                       show_progress: bool | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores [docs], best window per document, its token span [docs, 2]) from the engine's windows."""
        arguments = options.engine_arguments()

        def run(start: int, end: int, callback, cancel):
            return self._engine.score_windows(queries[start:end], docs[start:end], callback, first_index=start,
                                              cancel=cancel, **arguments)

        chunks = self._run_chunks(len(docs), run, show_progress)
        scores, best, spans = [np.empty(0, np.float32)], [np.empty(0, np.int64)], [np.empty((0, 2), np.int64)]
        totals: dict[str, int] = {}
        for logits, stats, offsets, window_spans in chunks:
            doc_scores, doc_best = aggregate(self._activate(self._checked(logits)), offsets, options.mode)
            scores.append(doc_scores)
            best.append(doc_best)
            spans.append(window_spans[offsets[:-1] + doc_best])
            for key, value in stats.items():
                totals[key] = totals.get(key, 0) + int(value)
        counts = [totals.get(key, 0) for key in ("truncated_pairs", "query_truncated_pairs", "real_tokens",
                                                 "padded_tokens", "batches")]
        windows = sum(len(chunk[0]) for chunk in chunks)
        self._local.stats = ScoreStats(len(docs), *counts, windows, totals.get("truncated_docs", 0),
                                       totals.get("capped_docs", 0), totals.get("max_windows_docs", 0))
        line = warning_line(totals, len(docs), options, self.max_length) if totals else None
        if line is not None:
            warnings.warn(line, TruncationWarning, stacklevel=4)
        return np.concatenate(scores), np.concatenate(best), np.concatenate(spans)

    def _checked(self, logits: np.ndarray) -> np.ndarray:
        if logits.shape[1] != self.bundle.num_labels:
            raise ValueError(f"model returned {logits.shape[1]} labels, bundle says {self.bundle.num_labels}")
        return logits

    def _run_chunks(self, total: int, run, show_progress: bool | None) -> list:
        """Feed the engine chunk by chunk, cancellable by :meth:`cancel`; the results of
        run(start, end, callback, cancel), in order."""
        progress = progress_bar(total, show_progress)
        token = _native.CancelToken()
        with self._calls_lock:
            self._calls.add(token)
        results = []
        try:
            for start in range(0, total, CHUNK_PAIRS):
                end = min(start + CHUNK_PAIRS, total)
                callback = None
                if progress is not None:  # the engine counts pairs (windows): report the chunk's share
                    callback = lambda done, of, start=start, size=end - start: progress.update(  # noqa: E731
                        start + done * size // max(of, 1) - progress.n)
                results.append(run(start, end, callback, token))
        except _native.Cancelled:
            raise Cancelled("Reranker.cancel() stopped this call; the Reranker stays usable") from None
        finally:
            with self._calls_lock:
                self._calls.discard(token)
            if progress is not None:
                progress.close()
        return results

    def _score(self, total: int, run, show_progress: bool | None, stacklevel: int = 4) -> np.ndarray:
        """Feed the engine chunk by chunk; run(start, end, callback, cancel) -> (logits, stats)."""
        logits = np.empty((total, self.bundle.num_labels), dtype=np.float32)
        counts = np.zeros(5, dtype=np.int64)
        start = 0
        for chunk_logits, stats in self._run_chunks(total, run, show_progress):
            logits[start:start + len(chunk_logits)] = self._checked(chunk_logits)
            start += len(chunk_logits)
            counts += [stats["truncated_pairs"], stats["query_truncated_pairs"], stats["real_tokens"],
                       stats["padded_tokens"], stats["batches"]]
        self._local.stats = ScoreStats(total, *map(int, counts), total, int(counts[0]))
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
