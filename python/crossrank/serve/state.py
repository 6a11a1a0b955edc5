"""What one server process holds: its settings, the model once loaded, its metrics, and whether it drains."""

from __future__ import annotations

import logging
from typing import Any

from crossrank.default_model import default_model
from crossrank.reranker import Reranker
from crossrank.serve.service import RerankService
from crossrank.serve.settings import ServeSettings

log = logging.getLogger("crossrank.serve")


class ServerState:
    """The server's shared state; the model loads on a background thread so that /health can say 503 meanwhile.

    Args:
        settings: the server's options.
        metrics: its :class:`crossrank.serve.metrics.Metrics` (set by the app factory).
    """

    def __init__(self, settings: ServeSettings, metrics: Any = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.service: RerankService | None = None
        self.load_error: str | None = None
        self.draining = False
        self.in_flight = 0

    def load(self, reranker: Reranker | None = None) -> None:
        """Load the model (RERANKER if given, else the settings' bundle or the default model) and start the queue."""
        try:
            if reranker is None:
                bundle = self.settings.bundle or default_model(progress=False)
                reranker = Reranker(bundle, precision=self.settings.precision, threads=self.settings.threads)
            on_batch = self.metrics.observe_batch if self.metrics is not None else None
            self.service = RerankService(reranker, self.settings, on_batch=on_batch)
            log.warning("crossrank serve: %s loaded; listening on http://%s:%d", reranker, self.settings.host,
                        self.settings.port)
        except Exception as error:  # reported by /health and every rerank request
            log.exception("crossrank serve: the model failed to load")
            self.load_error = f"{type(error).__name__}: {error}"

    @property
    def health(self) -> tuple[int, str]:
        """(HTTP status, status word) of /health: 503 while loading, after a failure, or while draining."""
        if self.load_error is not None:
            return 503, "failed"
        if self.service is None:
            return 503, "loading"
        if self.service.scheduler.failure is not None:
            return 503, "engine failed"
        if self.draining:
            return 503, "draining"
        return 200, "ok"

    def queued(self) -> tuple[int, int]:
        """(pairs, tokens) queued or running."""
        if self.service is None:
            return 0, 0
        scheduler = self.service.scheduler
        return scheduler.queued_pairs, scheduler.queued_tokens

    def close(self) -> None:
        """Stop the queue's worker."""
        if self.service is not None:
            self.service.close(timeout=5.0)
