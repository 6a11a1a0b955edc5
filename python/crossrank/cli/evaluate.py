"""``crossrank eval``: stage-one retrieval (+ reranking) quality and latency on a BEIR folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crossrank._validation import LONG_DOCUMENTS, PRECISIONS
from crossrank.bundle import Bundle
from crossrank.cli._types import output_file, positive_int
from crossrank.retrieval.evaluate import RETRIEVERS, format_result, run_eval


def _run(args: argparse.Namespace) -> int:
    if args.model is not None:
        Bundle.load(args.model)  # a wrong bundle fails now, not after stage one is built
    result = run_eval(args.data, retriever=args.retriever, model=args.model, pool=args.pool, trec_run=args.trec_run,
                      index=args.index, split=args.split, dedupe=None if args.dedupe == "none" else args.dedupe,
                      precision=args.precision, threads=args.threads, limit=args.limit,
                      relevance_level=args.relevance_level, long_documents=_long_documents(args),
                      log=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_result(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _long_documents(args: argparse.Namespace) -> dict[str, object] | None:
    """The reranker's long-document options from the command line (None: plain truncation)."""
    options = {"long_documents": args.long_documents or "truncate", "window": args.window, "stride": args.stride,
               "max_windows": args.max_windows, "max_tokens_per_doc": args.max_tokens_per_doc}
    given = args.long_documents is not None or any(options[k] is not None for k in list(options)[1:])
    return options if given else None


def add_parser(commands) -> argparse.ArgumentParser:
    """Add ``crossrank eval`` to an argparse subparsers object (sets ``run`` to the command)."""
    p = commands.add_parser(
        "eval", help="stage-one retrieval (+ reranking) quality and latency on a BEIR-layout folder",
        description="nDCG@10, MRR@10 and Recall@pool of stage one and, with --model, after reranking the "
                    "pool; median latency per query of each stage.")
    p.add_argument("data", type=Path, help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    p.add_argument("--model", type=Path, default=None, help="bundle folder; without it, stage one only")
    p.add_argument("--retriever", choices=RETRIEVERS, default="bm25")
    p.add_argument("--trec-run", type=Path, default=None,
                   help="take stage one from this TREC run file instead of --retriever")
    p.add_argument("--pool", type=positive_int, default=100, help="candidates per query (default 100)")
    p.add_argument("--index", type=Path, default=None,
                   help="folder to load the stage-one index from, or to save it to once built")
    p.add_argument("--dedupe", choices=["none", "id", "text"], default="id")
    p.add_argument("--split", default="test")
    p.add_argument("--precision", choices=PRECISIONS, default=None)
    p.add_argument("--threads", type=positive_int, default=None)
    p.add_argument("--relevance-level", type=positive_int, default=1,
                   help="lowest grade MRR@10 and recall count as relevant (TREC DL uses 2; default 1)")
    p.add_argument("--long-documents", choices=LONG_DOCUMENTS, default=None,
                   help="score documents longer than the model's window by truncation (default) or by windows: "
                        "the first (firstp), the best (maxp) or their mean (meanp)")
    p.add_argument("--window", type=positive_int, default=None, help="document tokens per window")
    p.add_argument("--stride", type=positive_int, default=None, help="tokens between window starts")
    p.add_argument("--max-windows", type=positive_int, default=None, help="windows per document at most (16)")
    p.add_argument("--max-tokens-per-doc", type=positive_int, default=None,
                   help="cut each document to this many tokens first")
    p.add_argument("--limit", type=positive_int, default=None, help="first N judged queries only")
    p.add_argument("--json", type=output_file, default=None, help="also write the results here")
    p.set_defaults(run=_run)
    return p
