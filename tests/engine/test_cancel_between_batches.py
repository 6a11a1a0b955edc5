"""Reranker.cancel() landing between two batches (not inside a graph run) must still raise
Cancelled: before the fix the workers' loops ended quietly and the call returned the batches it had
not run as logit 0 (score 0.5), or failed with "model returned 0 labels" (found by scripts/soak.py)."""

from __future__ import annotations

import threading
import time

import numpy as np

from crossrank.reranker import Cancelled, Reranker

# Short pairs, one per batch: most of a call's time is spent between graph runs.
PAIRS = [(f"query {i}", f"a short document number {i}") for i in range(64)]


def test_a_cancel_between_batches_never_passes_for_a_result(minilm_bundle):
    reranker = Reranker(minilm_bundle, threads=2, max_batch_size=1)
    expected = reranker.score_pairs(PAIRS)
    outcomes = {"done": 0, "cancelled": 0}
    stop = threading.Event()

    def canceller() -> None:
        while not stop.wait(0.003):
            reranker.cancel()

    thread = threading.Thread(target=canceller)
    thread.start()
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                scores = reranker.score_pairs(PAIRS)
            except Cancelled:
                outcomes["cancelled"] += 1
                continue
            np.testing.assert_array_equal(scores, expected)
            outcomes["done"] += 1
    finally:
        stop.set()
        thread.join()
    assert outcomes["cancelled"] > 0, outcomes
