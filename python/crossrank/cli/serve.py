"""``crossrank serve``: a rerank server speaking Cohere, Jina and TEI (needs the ``[serve]`` extra)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from crossrank._validation import PRECISIONS
from crossrank.bundle import Bundle
from crossrank.cli._types import positive_int
from crossrank.default_model import default_model
from crossrank.serve.ray_serve import serve_on_ray
from crossrank.serve.run import serve
from crossrank.serve.settings import ServeSettings

API_KEY_ENV = "CROSSRANK_API_KEY"


def _run(args: argparse.Namespace) -> int:
    settings = ServeSettings(
        bundle=args.bundle, host=args.host, port=args.port, api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
        model_name=args.model_name, precision=args.precision, threads=args.threads, max_documents=args.max_documents,
        max_body_bytes=args.max_body_bytes, max_text_chars=args.max_text_chars, max_queue_tokens=args.max_queue_tokens,
        batch_pairs=args.batch_pairs, quantum_tokens=args.quantum_tokens, request_timeout_s=args.request_timeout,
        drain_timeout_s=args.drain_timeout, auto_truncate=args.auto_truncate, log_level=args.log_level)
    if args.bundle is not None:
        Bundle.load(args.bundle)  # a missing or corrupt bundle stops here, before the server starts
    if args.ray_replicas is None:
        return serve(settings)
    # Build the default model once here, not in every replica.
    settings = dataclasses.replace(settings, bundle=args.bundle or default_model(progress=True))
    return serve_on_ray(settings, replicas=args.ray_replicas, address=args.ray_address)


def _port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return value


def add_parser(commands) -> argparse.ArgumentParser:
    """Add ``crossrank serve`` to an argparse subparsers object (sets ``run`` to the command)."""
    d = ServeSettings()
    p = commands.add_parser(
        "serve", help="serve a bundle over HTTP (Cohere v1/v2, Jina and TEI rerank APIs)",
        description="A rerank server: POST /v1/rerank, /v2/rerank (Cohere, Jina) and /rerank (TEI); GET /health, "
                    "/info, /metrics, /docs. One queue bounded in tokens; smaller requests first by size "
                    "class, equal ones in arrival order. "
                    "SIGTERM drains: in-flight requests finish, new ones get 503, then exit 0.")
    p.add_argument("bundle", type=Path, nargs="?", default=None,
                   help="bundle folder; default: the embedded default model (built on first use)")
    p.add_argument("--host", default=d.host, help=f"address to bind (default {d.host}: this machine only)")
    p.add_argument("--port", type=_port, default=d.port)
    p.add_argument("--api-key", default=None,
                   help=f"require 'Authorization: Bearer KEY' (default: ${API_KEY_ENV}, else no key)")
    p.add_argument("--model-name", default=d.model_name, help="the model name responses report")
    p.add_argument("--precision", choices=PRECISIONS, default=None)
    p.add_argument("--threads", type=positive_int, default=None,
                   help="engine threads (default: physical cores; with --ray-replicas: per replica, default 1)")
    p.add_argument("--ray-replicas", type=positive_int, default=None, metavar="N",
                   help="serve N Ray Serve replicas of the app behind Ray's proxy on --host:--port (needs crossrank[ray])")
    p.add_argument("--ray-address", default=None, help="with --ray-replicas: the Ray cluster to join (default: a "
                                                        "local one, or RAY_ADDRESS)")
    p.add_argument("--max-documents", type=positive_int, default=d.max_documents, help="per request (above: 413)")
    p.add_argument("--max-body-bytes", type=positive_int, default=d.max_body_bytes, help="above: 413")
    p.add_argument("--max-text-chars", type=positive_int, default=d.max_text_chars,
                   help="longest query or document string (above: 413)")
    p.add_argument("--max-queue-tokens", type=positive_int, default=d.max_queue_tokens,
                   help="tokens queued or running across requests; above it: 429 with Retry-After")
    p.add_argument("--batch-pairs", type=positive_int, default=d.batch_pairs, help="pairs per engine call")
    p.add_argument("--quantum-tokens", type=positive_int, default=None,
                   help="tokens a request may put into a micro-batch per turn (default: max_length)")
    p.add_argument("--request-timeout", type=float, default=d.request_timeout_s, help="seconds (then 503)")
    p.add_argument("--drain-timeout", type=float, default=d.drain_timeout_s,
                   help="seconds in-flight requests may take after SIGTERM")
    p.add_argument("--auto-truncate", action="store_true",
                   help="TEI requests without 'truncate' are truncated (default: a too-long pair gets 413, as in TEI)")
    p.add_argument("--log-level", default=d.log_level, choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(run=_run)
    return p
