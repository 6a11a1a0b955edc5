"""``crossrank eval``: stage-one retrieval (+ reranking) quality and latency on a BEIR folder."""

from __future__ import annotations


def add_parser(commands) -> None:
    """Add ``crossrank eval`` to an argparse subparsers object."""
    from crossrank.retrieval.evaluate import add_eval_parser

    add_eval_parser(commands)
