"""Every option of ``crossrank serve``, with its default, in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServeSettings:
    """Options of one server process (one model).

    Attributes:
        bundle: bundle folder; None: the embedded default model (built on first use).
        host: address to bind; 127.0.0.1 unless told otherwise.
        port: TCP port.
        api_key: when set, every route but /health and the docs requires ``Authorization: Bearer KEY``.
        model_name: the name /info and the responses report.
        precision: ``int8`` / ``fp32``; None: the bundle's default.
        threads: engine threads; None: physical cores.
        max_documents: most documents in one request (above: 413).
        max_body_bytes: largest request body (above: 413).
        max_text_chars: longest query or document string (above: 413).
        max_queue_tokens: tokens of all queued and running pairs; above it new requests get 429.
        batch_pairs: most pairs in one engine call (a micro-batch); a new request waits at most about
            one micro-batch before its first pairs run.
        quantum_tokens: tokens a request may put into a micro-batch per turn (turns go to the request
            with the least service so far); None: the model's max_length.
        request_timeout_s: a request still unanswered after this long gets 503 and its pairs are dropped.
        drain_timeout_s: on SIGTERM, how long in-flight requests may take before the server exits anyway.
        auto_truncate: TEI's default for a request without ``truncate``: False answers a too-long pair
            with 413, as TEI does.
        log_level: uvicorn's log level.
    """

    bundle: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None
    model_name: str = "crossrank"
    precision: str | None = None
    threads: int | None = None
    max_documents: int = 1000
    max_body_bytes: int = 16 * 1024 * 1024
    max_text_chars: int = 100_000
    max_queue_tokens: int = 1_000_000
    batch_pairs: int = 16
    quantum_tokens: int | None = None
    request_timeout_s: float = 300.0
    drain_timeout_s: float = 30.0
    auto_truncate: bool = False
    log_level: str = "warning"
