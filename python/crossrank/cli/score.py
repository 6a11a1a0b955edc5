"""``crossrank score``: score a file of (query, document) pairs into a copy with a score column."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crossrank._validation import LONG_DOCUMENTS, PRECISIONS
from crossrank.batch.formats import FORMATS, detect_format
from crossrank.batch.runner import ScoreFileJob, in_process_scorer, score_file
from crossrank.bundle import Bundle
from crossrank.cli._types import output_file, positive_int
from crossrank.default_model import default_model
from crossrank.integrations.ray import ray_chunk_scorer
from crossrank.reranker import Reranker


def _options(args: argparse.Namespace) -> tuple[dict[str, object], dict[str, object]]:
    """(Reranker keywords, score_pairs keywords) from the command line."""
    reranker = {k: v for k, v in (("precision", args.precision), ("max_length", args.max_length)) if v is not None}
    scoring = {k: v for k, v in (("long_documents", args.long_documents), ("window", args.window),
                                 ("stride", args.stride), ("max_windows", args.max_windows),
                                 ("max_tokens_per_doc", args.max_tokens_per_doc)) if v is not None}
    return reranker, scoring


def _run(args: argparse.Namespace) -> int:
    bundle = args.model if args.model is not None else default_model(progress=True)
    Bundle.load(bundle)  # a wrong bundle fails now, before reading the input
    reranker_options, score_options = _options(args)
    job = ScoreFileJob(
        source=args.pairs, out=args.out, source_format=args.format or detect_format(args.pairs),
        out_format=detect_format(args.out), chunk_rows=args.chunk_rows, query_column=args.query_column,
        document_column=args.document_column, score_column=args.score_column,
        settings={"bundle": str(Path(bundle).resolve()), **reranker_options, **score_options})
    if args.ray is None:
        reranker = Reranker(bundle, threads=args.threads, **reranker_options)
        scorer = in_process_scorer(reranker, score_options)
    else:
        scorer = ray_chunk_scorer(bundle, address=args.ray or None, workers=args.workers, threads=args.threads or 1,
                                  batch_rows=args.batch_rows, options={**reranker_options, **score_options})
    result = score_file(job, scorer, restart=args.restart, progress=None if not args.quiet else False,
                        log=lambda message: print(message, file=sys.stderr, flush=True))
    print(f"{result.rows:,} rows in {result.out} ({result.scored_now:,} scored now, "
          f"{result.resumed_rows:,} by an earlier run)")
    return 0


def add_parser(commands) -> argparse.ArgumentParser:
    """Add ``crossrank score`` to an argparse subparsers object (sets ``run`` to the command)."""
    p = commands.add_parser(
        "score", help="score a Parquet / JSONL / TSV file of (query, document) pairs",
        description="Adds a score column to every row, in input order. Work goes chunk by chunk into OUT.partial/, "
                    "so an interrupted run resumes where it stopped when run again. Without --ray it runs in this "
                    "process on all cores; with --ray on Ray actors (a local cluster, or ADDRESS).")
    p.add_argument("pairs", type=Path, help="input: .parquet, .jsonl or .tsv with query and document columns")
    p.add_argument("--out", type=output_file, required=True, help="output file (.parquet, .jsonl or .tsv)")
    p.add_argument("--model", type=Path, default=None, help="bundle folder; default: the embedded default model")
    p.add_argument("--format", choices=FORMATS, default=None, help="input format (default: from its suffix)")
    p.add_argument("--query-column", default="query")
    p.add_argument("--document-column", default="document")
    p.add_argument("--score-column", default="score")
    p.add_argument("--chunk-rows", type=positive_int, default=10_000,
                   help="rows per chunk: the unit of progress and of resuming (default 10000)")
    p.add_argument("--restart", action="store_true", help="discard a partial run of OUT instead of resuming it")
    p.add_argument("--precision", choices=PRECISIONS, default=None)
    p.add_argument("--max-length", type=positive_int, default=None)
    p.add_argument("--threads", type=positive_int, default=None,
                   help="intra-op threads (in-process: default all physical cores; with --ray: per worker, default 1)")
    p.add_argument("--long-documents", choices=LONG_DOCUMENTS, default=None)
    p.add_argument("--window", type=positive_int, default=None)
    p.add_argument("--stride", type=positive_int, default=None)
    p.add_argument("--max-windows", type=positive_int, default=None)
    p.add_argument("--max-tokens-per-doc", type=positive_int, default=None)
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="score on Ray actors: a local cluster, or the one at ADDRESS (needs crossrank[ray])")
    p.add_argument("--workers", type=positive_int, default=2, help="Ray actors (default 2)")
    p.add_argument("--batch-rows", type=positive_int, default=1024, help="pairs per Ray task (default 1024)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run)
    return p
