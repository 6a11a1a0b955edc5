"""Prometheus metrics of one server, in its own CollectorRegistry (so two apps in one process never clash)."""

from __future__ import annotations

from collections.abc import Callable

TIME_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LENGTH_BUCKETS = (8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048)
PAIR_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)


class Metrics:
    """Counters and histograms of the rerank server (``crossrank_*``).

    Args:
        queue_pairs: returns the pairs now queued or running.
        queue_tokens: returns their tokens.
    """

    def __init__(self, queue_pairs: Callable[[], float], queue_tokens: Callable[[], float]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("crossrank_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=r)
        Gauge("crossrank_queue_pairs", "pairs queued or running", registry=r).set_function(queue_pairs)
        Gauge("crossrank_queue_tokens", "tokens of the pairs queued or running", registry=r).set_function(queue_tokens)
        self.queue_time = Histogram("crossrank_queue_seconds", "time from queueing to a request's first pair running",
                                    buckets=TIME_BUCKETS, registry=r)
        self.tokenization_time = Histogram("crossrank_tokenization_seconds", "time to tokenize a request",
                                           buckets=TIME_BUCKETS, registry=r)
        self.inference_time = Histogram("crossrank_inference_seconds",
                                        "time from a request's first pair running to its last result",
                                        buckets=TIME_BUCKETS, registry=r)
        self.input_length = Histogram("crossrank_input_tokens", "tokens per pair (after truncation)",
                                      buckets=LENGTH_BUCKETS, registry=r)
        self.request_pairs = Histogram("crossrank_request_pairs", "pairs (documents) per request",
                                       buckets=PAIR_BUCKETS, registry=r)
        self.batch_time = Histogram("crossrank_batch_seconds", "engine time of one micro-batch",
                                    buckets=TIME_BUCKETS, registry=r)

    def observe_request(self, pair_tokens: list[int], tokenization_s: float, queue_s: float,
                        inference_s: float) -> None:
        """Record one scored request."""
        self.tokenization_time.observe(tokenization_s)
        self.queue_time.observe(queue_s)
        self.inference_time.observe(inference_s)
        self.request_pairs.observe(len(pair_tokens))
        for tokens in pair_tokens:
            self.input_length.observe(tokens)

    def observe_batch(self, pairs: int, tokens: int, seconds: float) -> None:
        """Record one engine call (the scheduler's ``on_batch``)."""
        self.batch_time.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text exposition."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
