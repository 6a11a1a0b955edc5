"""The scheduler in-process: fairness (size classes, aging by work), the token bound, cancellation, engine failure;
and the server's scoring path equal to Reranker.score_pairs."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from crossrank.reranker import Reranker
from crossrank.serve.errors import ApiError
from crossrank.serve import scheduler as scheduler_module
from crossrank.serve.scheduler import Job, QueueFull, RequestTooLarge, Scheduler, SchedulerClosed
from crossrank.serve.service import RerankService
from crossrank.serve.settings import ServeSettings
from serve_helpers import QUERY, documents, offline_scores

WAIT_S = 10.0


class FakeEngine:
    """run_batch that sleeps per pair and returns query id + doc id as the logit; records every batch."""

    def __init__(self, seconds_per_pair: float = 0.0005, gate: threading.Event | None = None) -> None:
        self.seconds_per_pair = seconds_per_pair
        self.gate = gate
        self.batches: list[list[tuple[int, int]]] = []

    def __call__(self, query_ids, doc_ids):
        if self.gate is not None:
            assert self.gate.wait(WAIT_S)
        self.batches.append([(q[0], d[0]) for q, d in zip(query_ids, doc_ids)])
        time.sleep(self.seconds_per_pair * len(doc_ids))
        return np.array([[q[0] + d[0]] for q, d in zip(query_ids, doc_ids)], dtype=np.float32)


def job(query: int, count: int, tokens: int = 10) -> Job:
    return Job([query], [[i] for i in range(count)], [tokens] * count, num_labels=1)


def scheduler(engine, **kwargs) -> Scheduler:
    options = {"max_queue_tokens": 100_000, "batch_pairs": 8, "quantum_tokens": 40} | kwargs
    return Scheduler(engine, **options).start()


def batches_of_queued_jobs(jobs: list[Job], while_queued=lambda: None, **kwargs) -> list[list[tuple[int, int]]]:
    """Submits JOBS while a one-pair blocker holds the worker, so that all wait at once, and calls
    while_queued(); returns the engine's micro-batches after the blocker's, as (query, doc) pairs."""
    gate = threading.Event()
    engine = FakeEngine(0.0, gate)
    s = scheduler(engine, **kwargs)
    try:
        blocker = s.submit(job(1, 1))  # holds the worker until the gate opens
        time.sleep(0.05)
        futures = [s.submit(j) for j in jobs]
        while_queued()
        gate.set()
        for f in [blocker, *futures]:
            f.result(WAIT_S)
    finally:
        gate.set()
        s.close(WAIT_S)
    return engine.batches[1:]


def test_a_small_request_finishes_before_a_large_one_that_arrived_first():
    engine = FakeEngine()
    s = scheduler(engine)
    try:
        large, small = job(1000, 1000), job(2000, 10)
        large_done, small_done = s.submit(large), None
        time.sleep(0.01)  # the large one is running
        small_done = s.submit(small)
        small_logits = small_done.result(WAIT_S)
        assert not large_done.done(), "the small request waited for the large one"
        large_logits = large_done.result(WAIT_S)
    finally:
        s.close(WAIT_S)
    # results stay with their request, in pair order
    assert small_logits[:, 0].tolist() == [2000 + i for i in range(10)]
    assert large_logits[:, 0].tolist() == [1000 + i for i in range(1000)]
    # the small request's pairs ran in the micro-batches right after its arrival, with none of the
    # large one's pairs (a micro-batch returns whole: they would only have delayed it)
    ours = [i for i, b in enumerate(engine.batches) if any(q == 2000 for q, _ in b)]
    assert ours == list(range(ours[0], ours[0] + 2))  # 10 pairs, 8 per micro-batch
    assert all({q for q, _ in engine.batches[i]} == {2000} for i in ours)
    assert ours[0] <= 3 and any(q == 1000 for q, _ in engine.batches[ours[-1] + 1])


def test_a_small_request_is_not_slowed_by_how_many_large_ones_are_in_flight():
    """A newcomer of a smaller size class has all its pairs in the next micro-batch, however many
    large requests share the queue (round-robin gave it 1/(N+1))."""
    engine = FakeEngine(seconds_per_pair=0.001)
    s = scheduler(engine, batch_pairs=8, quantum_tokens=40)
    try:
        large = [s.submit(job(1000 + q, 200)) for q in range(8)]
        time.sleep(0.4)  # every large request has had several turns
        small = s.submit(job(2000, 8))
        small.result(WAIT_S)
        assert sum(not f.done() for f in large) >= 6
    finally:
        s.close(WAIT_S)
    first = next(b for b in engine.batches if any(q == 2000 for q, _ in b))
    assert [q for q, _ in first] == [2000] * 8


def test_requests_of_neighbouring_size_classes_share_a_micro_batch():
    # 40 tokens (class 6), 70 tokens (class 7, one above), 400 tokens (class 9, three above)
    batches = batches_of_queued_jobs([job(q, n) for q, n in ((10, 4), (20, 7), (30, 40))],
                                     batch_pairs=8, quantum_tokens=1000)
    assert [q for q, _ in batches[0]] == [10] * 4 + [20] * 4
    assert [q for q, _ in batches[1]] == [20] * 3  # the 40-pair request waits for a batch of its own
    assert {q for q, _ in batches[2]} == {30}


def test_smaller_requests_go_first_and_equals_go_in_arrival_order():
    batches = batches_of_queued_jobs([job(q, n) for q, n in ((10, 6), (20, 2), (30, 6))],
                                     batch_pairs=8, quantum_tokens=20)  # 2 pairs of 10 tokens per turn
    assert [q for q, _ in batches[0]] == [20, 20, 10, 10, 10, 10, 10, 10]
    assert [q for q, _ in batches[1]] == [30] * 6


def test_aging_keeps_a_stream_of_small_requests_from_starving_a_large_one():
    engine = FakeEngine(seconds_per_pair=0.002)
    s = scheduler(engine, batch_pairs=4, quantum_tokens=40)
    try:
        large = s.submit(job(1000, 40))  # 400 tokens: class 9
        stream_end = time.perf_counter() + 3.0
        small = []
        while time.perf_counter() < stream_end and not large.done():
            small.append(s.submit(job(2000 + len(small), 4)))  # 40 tokens: class 6, three below
            time.sleep(0.004)
        assert large.done(), "the large request waited for the whole stream of small ones"
        for f in small:
            f.result(WAIT_S)
    finally:
        s.close(WAIT_S)
    # It climbs a class per AGING_WORK x its own 400 tokens of small pairs run ahead of it: three
    # classes, 120 small pairs, then it goes first (the oldest of its class). A micro-batch of slack.
    pairs = [q for b in engine.batches for q, _ in b]
    last_large = max(i for i, q in enumerate(pairs) if q == 1000)
    small_before = sum(q >= 2000 for q in pairs[:last_large])
    assert 3 * 40 * scheduler_module.AGING_WORK - 4 <= small_before <= 3 * 40 * scheduler_module.AGING_WORK + 4
    assert len(small) > small_before // 4  # the stream went on past it


def test_waiting_behind_requests_of_its_own_size_does_not_age_a_request_past_smaller_ones():
    """Under many large requests a slow engine keeps each waiting for many seconds; none of that is
    starvation, so a newcomer of a smaller class still goes first (time-based aging let the large
    ones climb past it: pool-10 p99 41x its unloaded latency under 16 pool-100 clients on Zen 4)."""
    large = [job(1000 + q, 200) for q in range(8)]

    def as_if_they_had_waited_ten_minutes_behind_each_other():
        for j in large:
            j.enqueued_at -= 600.0  # submit() set it

    batches = batches_of_queued_jobs([*large, job(2000, 8)], as_if_they_had_waited_ten_minutes_behind_each_other,
                                     batch_pairs=8, quantum_tokens=40)
    assert [q for q, _ in batches[0]] == [2000] * 8
    assert large[0].bypassed_tokens == 80 and all(j.bypassed_tokens == 0 for j in large[1:])  # the head alone


def test_the_token_bound_refuses_with_retry_after_and_a_request_larger_than_the_bound_is_too_large():
    gate = threading.Event()
    s = scheduler(FakeEngine(0.0, gate), max_queue_tokens=100)
    try:
        first = s.submit(job(1, 6))  # 60 tokens
        with pytest.raises(QueueFull) as full:
            s.submit(job(2, 5))  # 60 + 50 > 100
        assert full.value.retry_after_s >= 1
        with pytest.raises(RequestTooLarge, match="more than the whole queue"):
            s.submit(job(3, 11))
        gate.set()
        assert first.result(WAIT_S).shape == (6, 1)
        assert s.queued_tokens == 0 and s.queued_pairs == 0
        assert s.submit(job(2, 5)).result(WAIT_S).shape == (5, 1)  # room again
    finally:
        gate.set()
        s.close(WAIT_S)


def test_a_cancelled_request_has_its_remaining_pairs_dropped():
    gate = threading.Event()
    engine = FakeEngine(0.0, gate)
    s = scheduler(engine, batch_pairs=4)
    try:
        blocker = s.submit(job(1, 1))
        time.sleep(0.05)
        doomed = job(7, 100)
        s.submit(doomed)
        s.cancel(doomed)
        assert s.queued_pairs == 1
        gate.set()
        blocker.result(WAIT_S)
        after = s.submit(job(8, 3)).result(WAIT_S)
    finally:
        gate.set()
        s.close(WAIT_S)
    assert after[:, 0].tolist() == [8, 9, 10]
    assert not any(q == 7 for b in engine.batches for q, _ in b)
    assert s.queued_tokens == 0 and s.jobs == 0


def test_an_engine_failure_fails_the_waiting_requests_and_refuses_new_ones():
    def broken(query_ids, doc_ids):
        raise RuntimeError("boom")

    s = scheduler(broken)
    try:
        with pytest.raises(SchedulerClosed, match="engine failed"):
            s.submit(job(1, 3)).result(WAIT_S)
        with pytest.raises(SchedulerClosed):
            s.submit(job(2, 1))
    finally:
        s.close(WAIT_S)


def test_the_servers_scores_equal_score_pairs_whatever_shares_the_micro_batch(tiny_bundle):
    reranker = Reranker(tiny_bundle, threads=2)
    service = RerankService(reranker, ServeSettings(batch_pairs=5, quantum_tokens=64))
    try:
        cases = [("short query", documents(3, 4)), (QUERY, documents(17, 30, seed=3)),
                 ("another one " * 5, documents(9, 600, seed=5))]  # the last ones are truncated
        prepared = [service.prepare(q, d) for q, d in cases]
        futures = [service.scheduler.submit(p.job) for p in prepared]
        for (query, docs), p, future in zip(cases, prepared, futures):
            scores = reranker.activate(future.result(WAIT_S))
            np.testing.assert_array_equal(scores, offline_scores(reranker, query, docs))
        assert prepared[2].truncated_pairs == 9
    finally:
        service.close(WAIT_S)


def test_max_tokens_per_doc_cuts_documents_and_reports_them(tiny_bundle):
    reranker = Reranker(tiny_bundle, threads=2)
    service = RerankService(reranker, ServeSettings())
    try:
        docs = ["a b c d e f g h", "a b"]
        prepared = service.prepare(QUERY, docs, max_tokens_per_doc=3)
        assert prepared.cut_documents == [0]
        scores = reranker.activate(service.scheduler.submit(prepared.job).result(WAIT_S))
        np.testing.assert_array_equal(scores, offline_scores(reranker, QUERY, ["a b c", "a b"]))
    finally:
        service.close(WAIT_S)


def test_max_chunks_per_doc_scores_each_document_as_its_best_window_like_score_pairs_maxp(tiny_bundle):
    reranker = Reranker(tiny_bundle, threads=2)
    service = RerankService(reranker, ServeSettings())

    async def connected() -> bool:
        return False

    try:
        docs = documents(3, 1500)[:2] + ["short"]  # two documents of several windows each, one of one
        for chunks in (1, 2, 16):
            prepared = service.prepare(QUERY, docs, max_chunks_per_doc=chunks)
            scored = asyncio.run(service.score(prepared, connected))
            expected = reranker.score_pairs([(QUERY, d) for d in docs], long_documents="maxp", max_windows=chunks)
            np.testing.assert_array_equal(scored.scores, expected)
            windows = np.diff(prepared.offsets)
            assert windows[2] == 1 and (windows[:2] == chunks).all() if chunks < 16 else (windows[:2] > 2).all()
            assert prepared.chunked_documents == ([0, 1] if chunks < 16 else [])
            # The best window's logits stand for the document (TEI's raw_scores path reads them).
            np.testing.assert_allclose(reranker.activate(scored.logits), expected, rtol=1e-6)
    finally:
        service.close(WAIT_S)


def test_a_request_past_its_deadline_gets_503_and_its_pairs_are_dropped(tiny_bundle):
    reranker = Reranker(tiny_bundle, threads=2)
    service = RerankService(reranker, ServeSettings(request_timeout_s=0.05, max_documents=5000))
    try:
        prepared = service.prepare(QUERY, documents(2000, 300))  # far more than 50 ms of work

        async def never_disconnected() -> bool:
            return False

        with pytest.raises(ApiError) as error:
            asyncio.run(service.score(prepared, never_disconnected))
        assert error.value.status == 503 and "--request-timeout" in error.value.message
        deadline = time.monotonic() + WAIT_S
        while service.scheduler.queued_tokens and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.scheduler.queued_tokens == 0 and prepared.job.done < 2000
    finally:
        service.close(WAIT_S)
