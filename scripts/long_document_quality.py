#!/usr/bin/env python3
"""Long-document quality: does MaxP find a relevant passage that truncation cuts off?

    python scripts/long_document_quality.py BUNDLE [--data DIR] [--per-query N] [--window W]
        [--seed S] [--json OUT]

Builds long documents from a judged BEIR collection (default ../shared/data/trec-dl-2020): for each
judged (query, passage) pair whose passage is in the corpus (at most N per query, seeded), the
passage is placed among 4-12 unjudged passages of the corpus (passages judged for no query at
all), and the document takes the passage's grade. Three collections differ only in where the
passage sits: a random slot in the first, middle or last third of the passages (same fillers).
Each document is scored by truncation (max_length), FirstP and MaxP (windows of W document
tokens; default: what fits after the query), and nDCG@10 of each query's documents is reported
per collection, with the share of documents whose passage starts after the tokens truncation
keeps ("past the cut"), the floor (a random order, 20 seeded shuffles) and the ceiling (the
judged passages scored alone, without fillers).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import warnings
from pathlib import Path

import numpy as np

from crossrank.beir import read_beir
from crossrank.metrics import ndcg
from crossrank.reranker import Reranker, TruncationWarning

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "trec-dl-2020"
METHODS = ("passage alone", "truncate", "firstp", "maxp")
BUCKETS = ("early", "middle", "late")


def build_documents(corpus: dict[str, str], qrels: dict[str, dict[str, int]], per_query: int,
                    seed: int) -> dict[str, list[dict]]:
    """Per bucket, one long document per sampled judged pair: {query, grade, text, before}.

    The same fillers serve every bucket; only the passage's position differs: a random slot in
    the first, second or last third of the document's passages.
    """
    rng = random.Random(seed)
    judged_anywhere = {doc for judged in qrels.values() for doc in judged}
    fillers = sorted(doc for doc in corpus if doc not in judged_anywhere)
    if len(fillers) < 12:
        raise ValueError(f"the corpus has {len(fillers)} unjudged passages; 12 are needed as fillers")
    documents: dict[str, list[dict]] = {bucket: [] for bucket in BUCKETS}
    for qid, judged in qrels.items():
        present = sorted(doc for doc in judged if doc in corpus)
        for doc_id in rng.sample(present, min(per_query, len(present))):
            others = [corpus[d] for d in rng.sample(fillers, rng.randint(4, 12))]
            slots = len(others) + 1
            for third, bucket in enumerate(BUCKETS):
                position = rng.choice([p for p in range(slots) if 3 * p // slots == third])
                text = " ".join(others[:position] + [corpus[doc_id]] + others[position:])
                documents[bucket].append({"query": qid, "grade": judged[doc_id], "text": text,
                                          "before": " ".join(others[:position]), "passage": corpus[doc_id]})
    return documents


def score_documents(reranker: Reranker, queries: dict[str, str], documents: list[dict], window: int | None,
                    ) -> dict[str, np.ndarray]:
    """Each method's score of every document (one engine call per query and method)."""
    scores = {method: np.empty(len(documents), dtype=np.float32) for method in METHODS}
    by_query: dict[str, list[int]] = {}
    for index, document in enumerate(documents):
        by_query.setdefault(document["query"], []).append(index)
    options = {"passage alone": {}, "truncate": {}, "firstp": {"long_documents": "firstp", "window": window},
               "maxp": {"long_documents": "maxp", "window": window, "max_windows": 64}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        for qid, indices in by_query.items():
            pairs = [(queries[qid], documents[i]["text"]) for i in indices]
            for method in METHODS:
                if method == "passage alone":  # the ceiling: the judged passage without its fillers
                    scores[method][indices] = reranker.score_pairs([(queries[qid], documents[i]["passage"])
                                                                    for i in indices])
                else:
                    scores[method][indices] = reranker.score_pairs(pairs, **options[method])
    return scores


def ndcg_row(documents: list[dict], scores: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean nDCG@10 over the queries with a relevant document: each query's documents ranked by each method."""
    by_query: dict[str, list[int]] = {}
    for i, document in enumerate(documents):
        by_query.setdefault(document["query"], []).append(i)
    judged = [idx for idx in by_query.values() if any(documents[i]["grade"] > 0 for i in idx)]
    row = {"documents": len(documents), "queries": len(judged)}
    rng = random.Random(0)  # the floor: what an order that ignores the passage scores (20 shuffles)
    row["random"] = float(np.mean([ndcg([str(i) for i in rng.sample(idx, len(idx))],
                                        {str(i): documents[i]["grade"] for i in idx}, 10)
                                   for _ in range(20) for idx in judged])) if judged else float("nan")
    for method in METHODS:
        gains = [ndcg([str(i) for i in sorted(idx, key=lambda i: -scores[method][i])],
                      {str(i): documents[i]["grade"] for i in idx}, 10) for idx in judged]
        row[method] = float(np.mean(gains)) if gains else float("nan")
    return row


def past_the_cut(reranker: Reranker, queries: dict[str, str], documents: list[dict]) -> float:
    """Share of documents whose judged passage starts after the tokens truncation keeps."""
    tokenizer = reranker.tokenizer
    past = [len(tokenizer.encode(d["before"])) >= reranker.max_length - 3 - len(tokenizer.encode(queries[d["query"]]))
            for d in documents]
    return float(np.mean(past)) if past else 0.0


def format_table(table: dict, window: int | None, max_length: int) -> str:
    """The markdown table: one row per passage position."""
    lines = [f"| passage position | documents | queries | passage past the cut | random order | passage alone | "
             f"truncation ({max_length}) | FirstP | MaxP |", "|---|---|---|---|---|---|---|---|---|"]
    for bucket, row in table.items():
        lines.append(f"| {bucket} | {row['documents']} | {row['queries']} | {100 * row['past_the_cut']:.0f} % | "
                     f"{row['random']:.4f} | {row['passage alone']:.4f} | {row['truncate']:.4f} | "
                     f"{row['firstp']:.4f} | {row['maxp']:.4f} |")
    lines.append(f"(windows: {window or 'what fits after the query'} document tokens, stride 3/4 of the window)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR folder (default: TREC DL 2020)")
    ap.add_argument("--per-query", type=int, default=8, help="judged passages per query (default 8)")
    ap.add_argument("--window", type=int, default=None, help="document tokens per window (default: what fits)")
    ap.add_argument("--precision", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if not (args.data / "corpus.jsonl").is_file():
        print(f"skipped: {args.data} holds no BEIR collection (corpus.jsonl)", file=sys.stderr)
        return 2
    corpus, queries, qrels = read_beir(args.data)
    qrels = {q: judged for q, judged in qrels.items() if q in queries}
    reranker = Reranker(args.bundle, precision=args.precision)
    documents = build_documents(corpus, qrels, args.per_query, args.seed)
    table = {}
    for bucket, docs in documents.items():
        table[bucket] = ndcg_row(docs, score_documents(reranker, queries, docs, args.window))
        table[bucket]["past_the_cut"] = past_the_cut(reranker, queries, docs)
    print(format_table(table, args.window, reranker.max_length))
    if args.json:
        args.json.write_text(json.dumps({"bundle": str(args.bundle), "data": str(args.data), "seed": args.seed,
                                         "per_query": args.per_query, "window": args.window,
                                         "precision": reranker.precision, "ndcg@10": table}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
