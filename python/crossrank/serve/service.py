"""One rerank request, from texts to logits: tokenize once, cut, submit to the queue, wait.

Documents are tokenized once, in C++ (``Reranker.encode_documents``); the ids give exact token counts
for the queue bound and ``max_tokens_per_doc``, and go to the engine as they are
(``Reranker.token_id_logits``), so a pair's score equals ``Reranker.score_pairs`` on the same texts
whatever else is in flight (the engine runs each pair alone by default). With ``max_chunks_per_doc``
(Cohere's), each document's ids are cut into the engine's windows (``_native.window_spans``, what
``Reranker.score_pairs(long_documents="maxp")`` uses) and its score is its best window's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from crossrank import _native
from crossrank.long_documents import aggregate
from crossrank.reranker import Reranker
from crossrank.serve.errors import ApiError
from crossrank.serve.scheduler import Job, QueueFull, RequestTooLarge, Scheduler, SchedulerClosed
from crossrank.serve.settings import ServeSettings

DISCONNECT_POLL_S = 0.05


@dataclass
class Prepared:
    """A tokenized request, ready to queue, with what tokenizing it found."""

    job: Job
    tokenization_s: float
    tokens: int
    cut_documents: list[int] = field(default_factory=list)  # indexes cut to max_tokens_per_doc
    truncated_pairs: int = 0  # pairs the engine will cut to max_length
    # With max_chunks_per_doc: document i's windows are the job's pairs offsets[i]:offsets[i + 1].
    offsets: np.ndarray | None = None
    chunked_documents: list[int] = field(default_factory=list)  # indexes with more windows than allowed


@dataclass
class Scored:
    """Scores of one request, best first, with its timings in seconds."""

    order: np.ndarray
    logits: np.ndarray
    scores: np.ndarray
    prepared: Prepared
    queue_s: float
    inference_s: float
    total_s: float


class RerankService:
    """The server's scoring: a Reranker behind one :class:`Scheduler`."""

    def __init__(self, reranker: Reranker, settings: ServeSettings,
                 on_batch: Callable[[int, int, float], None] | None = None) -> None:
        self.reranker = reranker
        self.settings = settings
        self.max_length = reranker.max_length
        self.special_tokens = reranker.tokenizer.special_count
        quantum = settings.quantum_tokens or reranker.max_length
        self.scheduler = Scheduler(self._run_batch, max_queue_tokens=settings.max_queue_tokens,
                                   batch_pairs=settings.batch_pairs, quantum_tokens=max(quantum, reranker.max_length),
                                   on_batch=on_batch).start()

    def _run_batch(self, query_ids: list[Sequence[int]], doc_ids: list[Sequence[int]]) -> np.ndarray:
        return self.reranker.token_id_logits(query_ids, doc_ids)[0]

    def prepare(self, query: str, documents: Sequence[str], *, max_tokens_per_doc: int | None = None,
                max_chunks_per_doc: int | None = None, truncate: bool = True, left: bool = False) -> Prepared:
        """Tokenize QUERY and DOCUMENTS into a job (blocking: call it in a worker thread).

        Args:
            max_tokens_per_doc: cut each document to this many tokens first (reported).
            max_chunks_per_doc: score each document as its best window (MaxP), at most this many
                windows of what fits after the query, overlapping by a quarter (reported when a
                document has more); None: one pair per document, truncated.
            truncate: False: a pair longer than max_length is an error (413, TEI's ``truncate: false``).
            left: cut documents from the left (TEI's ``truncation_direction: "Left"``).

        Raises:
            ApiError: 413 for a pair too long where truncation is off; 422 for a query that leaves no
                room for any document token.
        """
        start = time.perf_counter()
        query_ids = self.reranker.tokenizer.encode(query)
        doc_ids = self.reranker.encode_documents(documents)
        tokenization_s = time.perf_counter() - start
        room = self.max_length - self.special_tokens - len(query_ids)
        if room < 1:
            raise ApiError(422, f"query: {len(query_ids)} tokens leave no room for a document within the model's "
                                f"max_length of {self.max_length} tokens; shorten the query", field="query")
        cut = []
        if max_tokens_per_doc is not None:
            for i, ids in enumerate(doc_ids):
                if len(ids) > max_tokens_per_doc:
                    doc_ids[i] = ids[:max_tokens_per_doc]
                    cut.append(i)
        if max_chunks_per_doc is not None:
            return self._windows(query_ids, doc_ids, room, max_chunks_per_doc, tokenization_s, cut)
        too_long = [i for i, ids in enumerate(doc_ids) if len(ids) > room]
        if too_long and not truncate:
            i = too_long[0]
            raise ApiError(413, f"texts[{i}]: the pair has {len(query_ids) + len(doc_ids[i]) + self.special_tokens} "
                                f"tokens, more than max_length={self.max_length}; send truncate: true, or shorten it "
                                f"({len(too_long)} text(s) too long)", field=f"texts[{i}]", kind="Validation")
        if left:
            for i in too_long:
                doc_ids[i] = doc_ids[i][len(doc_ids[i]) - room:]
        pair_tokens = [min(len(query_ids) + len(ids) + self.special_tokens, self.max_length) for ids in doc_ids]
        job = Job(query_ids, doc_ids, pair_tokens, self.reranker.bundle.num_labels)
        return Prepared(job, tokenization_s, sum(pair_tokens), cut, 0 if left else len(too_long))

    def _windows(self, query_ids: list[int], doc_ids: list[list[int]], room: int, max_chunks: int,
                 tokenization_s: float, cut: list[int]) -> Prepared:
        """The job of every document's first MAX_CHUNKS windows of ROOM tokens (stride: 3/4 of a window)."""
        stride = max(1, room * 3 // 4)
        windows: list[list[int]] = []
        offsets = [0]
        chunked = []
        for i, ids in enumerate(doc_ids):
            spans = _native.window_spans(len(ids), room, stride)
            if len(spans) > max_chunks:
                chunked.append(i)
            windows += [ids[begin:end] for begin, end in spans[:max_chunks]]
            offsets.append(len(windows))
        pair_tokens = [len(query_ids) + len(ids) + self.special_tokens for ids in windows]
        job = Job(query_ids, windows, pair_tokens, self.reranker.bundle.num_labels)
        return Prepared(job, tokenization_s, sum(pair_tokens), cut, 0, np.asarray(offsets, dtype=np.int64), chunked)

    async def score(self, prepared: Prepared, is_disconnected: Callable[[], Awaitable[bool]]) -> Scored:
        """Queue PREPARED and wait for its logits; drop its pairs if the client leaves or the deadline passes.

        Raises:
            ApiError: 429 (queue full, with Retry-After), 413 (more tokens than the queue may hold),
                503 (shutting down, engine failed, deadline passed), 499 (client gone).
        """
        job = prepared.job
        future = self._submit(job)
        waiting = asyncio.wrap_future(future)
        deadline = time.perf_counter() + self.settings.request_timeout_s
        try:
            while not waiting.done():
                await asyncio.wait([waiting], timeout=DISCONNECT_POLL_S)
                if waiting.done():
                    break
                if await is_disconnected():
                    raise ApiError(499, "the client closed the connection")
                if time.perf_counter() > deadline:
                    raise ApiError(503, f"the request did not finish within {self.settings.request_timeout_s} s "
                                        "(--request-timeout); its remaining pairs were dropped")
            logits = waiting.result()
        except SchedulerClosed as error:
            raise ApiError(503, f"cannot score now: {error}") from None
        finally:
            if not waiting.done() or waiting.cancelled():
                self.scheduler.cancel(job)
                waiting.cancel()
        scores = self.reranker.activate(logits)
        if prepared.offsets is not None:
            scores, best = aggregate(scores, prepared.offsets, "maxp")
            logits = logits[prepared.offsets[:-1] + best]
        order = np.argsort(-scores, kind="stable")
        return Scored(order, logits, scores, prepared, job.queue_s, job.inference_s,
                      time.perf_counter() - job.enqueued_at + prepared.tokenization_s)

    def _submit(self, job: Job):
        try:
            return self.scheduler.submit(job)
        except QueueFull as error:
            raise ApiError(429, f"{error}; retry later", headers={"Retry-After": str(error.retry_after_s)}) from None
        except RequestTooLarge as error:
            raise ApiError(413, str(error), field="documents") from None
        except SchedulerClosed as error:
            raise ApiError(503, f"cannot score now: {error}") from None

    def close(self, timeout: float | None = None) -> None:
        """Stop the scheduler's worker."""
        self.scheduler.close(timeout)
