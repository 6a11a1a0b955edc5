"""The one queue: every request's pairs, bounded in tokens, served by one worker thread.

Policy: smaller requests first by size class, first come first served within a class, with aging.
A request's class is the bit length of its tokens (each class holds requests up to twice as large
as the one below). Aging counts work, not time: while a request is the first of its class, every
token of a smaller class's pairs that the engine runs ahead of it is charged to it, and each
``AGING_WORK`` times its own tokens so charged moves it up one class. A micro-batch of up to
``batch_pairs`` pairs is filled turn by turn, each turn going to the first request of the best
class, which puts up to ``quantum_tokens`` of its pairs in (at least one pair). A micro-batch that
holds a request's pairs takes none of a request more than ``MIX_CLASSES`` classes above it: the
engine returns a micro-batch whole, so larger requests' pairs in it would only delay the smaller
one. So a 10-document request that arrives while 100-document ones run goes into the very next
micro-batch, alone; requests of about the same size are served in arrival order and share
micro-batches, which keeps a busy server's latencies close to their mean; and aging bounds how long
a stream of smaller requests can hold a large one back: by about AGING_WORK times its own work per
class it lies above them, on any machine.

Measured with ``crossrank bench-serve`` (README, "Serving speed"), 2 cores: deficit round-robin gave
a newcomer 1/(N+1) of each micro-batch (pool-10 p99 5.8-7.5x its unloaded latency under 2-4
pool-100 clients); least attained service fixed that (2.9x under 16) but kept preempting old
requests for new ones (p99 14.5 s at 16 clients of pool 100, where the mean is ~4.8 s); shortest
remaining work first starved the largest of the pool-100 requests (p99 17.3 s). Filling the
newcomer's micro-batch up with pool-100 pairs put its p99 at 3.0-3.2x its unloaded latency under 16
pool-100 clients; its micro-batch alone, at ~2.5x. Aging by time (a class per 2 s waited) held on a
fast CPU (AMD Zen 5, 555 pairs/s), but on a slower one (Zen 4, 233 pairs/s) the pool-100 requests
waited ~7 s behind each other, climbed 3 classes and then went ahead of the pool-10 ones: p99 41-44x.
Time spent behind requests of one's own size is not starvation, so now only bypassing work counts.

The worker calls the engine (which releases the GIL) and hands each finished job's logits back
through a ``concurrent.futures.Future`` (asyncio handlers await it with ``asyncio.wrap_future``,
which uses ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import math
import threading
import time
import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

# Work of smaller requests run ahead of a request, in multiples of its own tokens, that moves it up
# one size class. At 1, a pool-100 request at the head of its class under a stream of pool-10 ones
# climbs one class after one pool-100 request's worth of theirs, three to reach their class; one
# just above a size boundary waits for at most about one request of the class below.
AGING_WORK = 1.0
# Size classes a micro-batch may span: pool-10 and pool-100 requests of MS MARCO passages lie 3-4
# classes apart; requests whose sizes vary by a few tokens straddle one class boundary.
MIX_CLASSES = 1

RunBatch = Callable[[list[Sequence[int]], list[Sequence[int]]], np.ndarray]


class QueueFull(Exception):
    """The queue holds too many tokens for this request now; retry after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RequestTooLarge(Exception):
    """The request alone holds more tokens than the whole queue may."""


class SchedulerClosed(Exception):
    """The scheduler stopped, or its engine failed: no new work is taken."""


class Job:
    """One request's pairs: one query's token ids against each document's, with each pair's tokens."""

    def __init__(self, query_ids: Sequence[int], doc_ids: Sequence[Sequence[int]], pair_tokens: Sequence[int],
                 num_labels: int) -> None:
        if len(doc_ids) != len(pair_tokens):
            raise ValueError(f"doc_ids and pair_tokens must be as long, got {len(doc_ids)} and {len(pair_tokens)}")
        self.query_ids = query_ids
        self.doc_ids = doc_ids
        self.pair_tokens = list(pair_tokens)
        self.total_tokens = sum(self.pair_tokens)
        self.logits = np.empty((len(doc_ids), num_labels), dtype=np.float32)
        self.future: Future[np.ndarray] = Future()
        self.next = 0  # first pair not yet handed to the engine
        self.end = len(doc_ids)  # pairs that will run: all, or those already handed over when cancelled
        self.done = 0  # pairs scored
        self.size_class = self.total_tokens.bit_length()  # twice the tokens: the next class
        self.arrival = 0  # submission order, set by the scheduler: the tie-break
        self.cancelled = False
        self.bypassed_tokens = 0  # smaller classes' tokens run ahead of it while it headed its class
        self.enqueued_at = time.perf_counter()
        self.started_at: float | None = None
        self.finished_at: float | None = None

    @property
    def queue_s(self) -> float:
        """Seconds from submission to its first pair reaching the engine (0 until then)."""
        return (self.started_at or self.enqueued_at) - self.enqueued_at

    @property
    def inference_s(self) -> float:
        """Seconds from its first pair reaching the engine to its last result."""
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return self.finished_at - self.started_at


class Scheduler:
    """Feeds one engine from many jobs, fairly, on one worker thread.

    Args:
        run_batch: ``run_batch(query_ids, doc_ids) -> logits [pairs, labels]``, one query per pair.
        max_queue_tokens: bound on the tokens of all jobs not yet fully scored.
        batch_pairs: most pairs per engine call.
        quantum_tokens: tokens a job may put into a micro-batch per turn (at least one pair).
        on_batch: called after each engine call with (pairs, tokens, seconds), e.g. for metrics.
    """

    def __init__(self, run_batch: RunBatch, *, max_queue_tokens: int, batch_pairs: int, quantum_tokens: int,
                 on_batch: Callable[[int, int, float], None] | None = None) -> None:
        for name, value in (("max_queue_tokens", max_queue_tokens), ("batch_pairs", batch_pairs),
                            ("quantum_tokens", quantum_tokens)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self._run_batch = run_batch
        self.max_queue_tokens = max_queue_tokens
        self.batch_pairs = batch_pairs
        self.quantum_tokens = quantum_tokens
        self._on_batch = on_batch
        self._cond = threading.Condition()
        self._waiting: list[Job] = []  # jobs with pairs not yet handed to the engine
        self._arrivals = itertools.count()
        self._running: set[Job] = set()  # jobs not fully scored
        self.queued_tokens = 0
        self.queued_pairs = 0
        self.failure: BaseException | None = None
        self._closed = False
        self._tokens_per_s = 0.0
        self._thread = threading.Thread(target=self._loop, name="crossrank-scheduler", daemon=True)

    def start(self) -> Scheduler:
        """Start the worker thread; returns self."""
        self._thread.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        """Stop taking jobs, fail the ones still queued, and join the worker (up to TIMEOUT seconds)."""
        with self._cond:
            self._closed = True
            dropped = list(self._running)
            self._cond.notify_all()
        for job in dropped:
            _set_exception(job, SchedulerClosed("the server is shutting down"))
            self.cancel(job)
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def jobs(self) -> int:
        """Jobs submitted and not yet fully scored or cancelled."""
        return len(self._running)

    def submit(self, job: Job) -> Future[np.ndarray]:
        """Queue JOB; returns its future (logits in the job's pair order).

        Raises:
            RequestTooLarge: the job alone holds more than ``max_queue_tokens``.
            QueueFull: the queue has no room for it now (its ``retry_after_s`` estimates when it will).
            SchedulerClosed: the server is shutting down or its engine failed.
        """
        with self._cond:
            if self._closed or self.failure is not None:
                why = "the engine failed" if self.failure is not None else "the server is shutting down"
                raise SchedulerClosed(why)
            if job.total_tokens > self.max_queue_tokens:
                raise RequestTooLarge(f"the request holds {job.total_tokens} tokens, more than the whole queue "
                                      f"may ({self.max_queue_tokens}, --max-queue-tokens): send fewer documents")
            if self.queued_tokens + job.total_tokens > self.max_queue_tokens:
                raise QueueFull(f"the queue holds {self.queued_tokens} tokens; this request's {job.total_tokens} "
                                f"would pass its bound of {self.max_queue_tokens}", self._retry_after(job))
            job.enqueued_at = time.perf_counter()
            job.arrival = next(self._arrivals)
            self.queued_tokens += job.total_tokens
            self.queued_pairs += len(job.pair_tokens)
            self._running.add(job)
            if job.pair_tokens:
                self._waiting.append(job)
                self._cond.notify()
            else:
                self._finish(job)
        if not job.pair_tokens:
            job.future.set_result(job.logits)
        return job.future

    def cancel(self, job: Job) -> None:
        """Drop JOB's pairs not yet handed to the engine (a client gone or past its deadline)."""
        with self._cond:
            if job.cancelled or job not in self._running:
                return
            job.cancelled = True
            if job in self._waiting:
                self._waiting.remove(job)
            rest = job.pair_tokens[job.next:]
            self.queued_tokens -= sum(rest)
            self.queued_pairs -= len(rest)
            job.end = job.next
            if job.done == job.end:
                self._running.discard(job)
        job.future.cancel()

    def _retry_after(self, job: Job) -> int:
        excess = self.queued_tokens + job.total_tokens - self.max_queue_tokens
        rate = self._tokens_per_s or 1000.0
        return max(1, min(60, math.ceil(excess / rate)))

    def _take(self) -> list[tuple[Job, int]]:
        """A micro-batch, turn by turn to the first job of the best size class (under the lock)."""
        batch: list[tuple[Job, int]] = []
        classes = {job: self._effective_class(job) for job in self._waiting}
        smallest = None  # the effective size class of the batch's first request
        while self._waiting and len(batch) < self.batch_pairs:
            size, _, job = min((classes[j], j.arrival, j) for j in self._waiting)
            if smallest is None:
                smallest = size
            elif size > smallest + MIX_CLASSES:
                break
            if job.started_at is None:
                job.started_at = time.perf_counter()
            budget = self.quantum_tokens
            while job.next < job.end and len(batch) < self.batch_pairs:
                tokens = job.pair_tokens[job.next]
                if tokens > budget and budget < self.quantum_tokens:
                    break  # the turn is spent; the first pair of a turn always goes in
                budget -= tokens
                batch.append((job, job.next))
                job.next += 1
            if job.next >= job.end:
                self._waiting.remove(job)
        self._charge_bypass(batch, classes)
        return batch

    def _charge_bypass(self, batch: list[tuple[Job, int]], classes: dict[Job, int]) -> None:
        """Charges the first waiting job of each class with BATCH's tokens of smaller classes, unless it is in BATCH."""
        heads: dict[int, Job] = {}
        for job in self._waiting:
            size = classes[job]
            if size not in heads or job.arrival < heads[size].arrival:
                heads[size] = job
        served = {job for job, _ in batch}
        for size, head in heads.items():
            if head not in served:
                head.bypassed_tokens += sum(job.pair_tokens[i] for job, i in batch if classes[job] < size)

    @staticmethod
    def _effective_class(job: Job) -> int:
        """JOB's size class, one lower for each AGING_WORK times its tokens run ahead of it."""
        return job.size_class - int(job.bypassed_tokens / (AGING_WORK * max(job.total_tokens, 1)))

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch = self._take()
            self._run(batch)

    def _run(self, batch: list[tuple[Job, int]]) -> None:
        start = time.perf_counter()
        try:
            logits = self._run_batch([job.query_ids for job, _ in batch], [job.doc_ids[i] for job, i in batch])
        except Exception as error:  # the engine failed: nothing more can be scored
            self._fail(error)
            return
        seconds = time.perf_counter() - start
        tokens = sum(job.pair_tokens[i] for job, i in batch)
        finished = self._scatter(batch, logits, tokens, seconds)
        for job in finished:
            if not job.future.done():
                job.future.set_result(job.logits)
        if self._on_batch is not None:
            self._on_batch(len(batch), tokens, seconds)

    def _scatter(self, batch: list[tuple[Job, int]], logits: np.ndarray, tokens: int, seconds: float) -> list[Job]:
        finished = []
        with self._cond:
            self._tokens_per_s = 0.8 * self._tokens_per_s + 0.2 * tokens / max(seconds, 1e-6) if self._tokens_per_s \
                else tokens / max(seconds, 1e-6)
            for row, (job, index) in enumerate(batch):
                job.logits[index] = logits[row]
                job.done += 1
                self.queued_tokens -= job.pair_tokens[index]  # cancel() took off only undispatched pairs
                self.queued_pairs -= 1
                if job.done == job.end:
                    self._running.discard(job)
                    if not job.cancelled:
                        self._finish(job)
                        finished.append(job)
        return finished

    def _finish(self, job: Job) -> None:
        job.finished_at = time.perf_counter()
        if job.started_at is None:
            job.started_at = job.finished_at

    def _fail(self, error: BaseException) -> None:
        with self._cond:
            self.failure = error
            failed = list(self._running)
            self._waiting.clear()
            self._running.clear()
            self.queued_tokens = self.queued_pairs = 0
        for job in failed:
            _set_exception(job, SchedulerClosed(f"the engine failed: {type(error).__name__}"))


def _set_exception(job: Job, error: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(error)
