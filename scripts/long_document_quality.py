#!/usr/bin/env python3
"""Long-document quality: does MaxP find a relevant passage that truncation cuts off?

    python scripts/long_document_quality.py BUNDLE [--data DIR] [--per-query N] [--window W]
        [--seed S] [--json OUT]

Builds long documents from a judged BEIR collection (default ../shared/data/trec-dl-2020): for each
judged (query, passage) pair whose passage is in the corpus (at most N per query, seeded), the
passage is placed at a random position among 4-12 unjudged passages of the corpus (passages
judged for no query at all), and the document takes the passage's grade. Each document is
scored by truncation (max_length), FirstP and MaxP (windows of W document tokens; default: what
fits after the query), and nDCG@10 is reported over all documents and by where the judged
passage sits: early / middle / late (thirds of the passage order), and "past the cut" (it starts
after the tokens truncation keeps).
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
METHODS = ("truncate", "firstp", "maxp")
BUCKETS = ("all", "early", "middle", "late", "past the cut")


def build_documents(corpus: dict[str, str], qrels: dict[str, dict[str, int]], per_query: int,
                    seed: int) -> list[dict]:
    """One long document per sampled judged pair: {query, text, grade, position, fillers, start_char}."""
    rng = random.Random(seed)
    judged_anywhere = {doc for judged in qrels.values() for doc in judged}
    fillers = sorted(doc for doc in corpus if doc not in judged_anywhere)
    if len(fillers) < 12:
        raise ValueError(f"the corpus has {len(fillers)} unjudged passages; 12 are needed as fillers")
    documents = []
    for qid, judged in qrels.items():
        present = sorted(doc for doc in judged if doc in corpus)
        for doc_id in rng.sample(present, min(per_query, len(present))):
            others = [corpus[d] for d in rng.sample(fillers, rng.randint(4, 12))]
            position = rng.randint(0, len(others))
            before = " ".join(others[:position])
            text = " ".join(others[:position] + [corpus[doc_id]] + others[position:])
            documents.append({"query": qid, "grade": judged[doc_id], "position": position,
                              "passages": len(others) + 1, "text": text, "before": before})
    return documents


def bucket_of(document: dict, tokens_before: int, kept_tokens: int) -> list[str]:
    """The rows a document counts in: all, its third of the passage order, past the cut."""
    third = 3 * document["position"] // document["passages"]
    names = ["all", ("early", "middle", "late")[third]]
    if tokens_before >= kept_tokens:
        names.append("past the cut")
    return names


def score_documents(reranker: Reranker, queries: dict[str, str], documents: list[dict], window: int | None,
                    ) -> dict[str, np.ndarray]:
    """Each method's score of every document (one engine call per query and method)."""
    scores = {method: np.empty(len(documents), dtype=np.float32) for method in METHODS}
    by_query: dict[str, list[int]] = {}
    for index, document in enumerate(documents):
        by_query.setdefault(document["query"], []).append(index)
    options = {"truncate": {}, "firstp": {"long_documents": "firstp", "window": window},
               "maxp": {"long_documents": "maxp", "window": window, "max_windows": 64}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        for qid, indices in by_query.items():
            pairs = [(queries[qid], documents[i]["text"]) for i in indices]
            for method in METHODS:
                scores[method][indices] = reranker.score_pairs(pairs, **options[method])
    return scores


def ndcg_table(documents: list[dict], scores: dict[str, np.ndarray], rows: list[list[str]]) -> dict:
    """nDCG@10 per bucket and method: each query's documents of that bucket ranked by the method."""
    table: dict[str, dict[str, float]] = {}
    for bucket in BUCKETS:
        members = [i for i, names in enumerate(rows) if bucket in names]
        by_query: dict[str, list[int]] = {}
        for i in members:
            by_query.setdefault(documents[i]["query"], []).append(i)
        judged = {q: idx for q, idx in by_query.items() if any(documents[i]["grade"] > 0 for i in idx)}
        table[bucket] = {"documents": len(members), "queries": len(judged)}
        for method in METHODS:
            gains = []
            for indices in judged.values():
                order = sorted(indices, key=lambda i: -scores[method][i])
                grades = {str(i): documents[i]["grade"] for i in indices}
                gains.append(ndcg([str(i) for i in order], grades, 10))
            table[bucket][method] = float(np.mean(gains)) if gains else float("nan")
    return table


def format_table(table: dict, window: int | None, max_length: int) -> str:
    """The markdown table of :func:`ndcg_table`."""
    head = f"| passage position | documents | queries | truncation ({max_length}) | FirstP | MaxP |"
    lines = [head, "|---|---|---|---|---|---|"]
    for bucket, row in table.items():
        lines.append(f"| {bucket} | {row['documents']} | {row['queries']} | {row['truncate']:.4f} | "
                     f"{row['firstp']:.4f} | {row['maxp']:.4f} |")
    lines.append(f"(windows: {window or 'what fits after the query'} document tokens, stride 3/4 of the window)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR folder (default: TREC DL 2020)")
    ap.add_argument("--per-query", type=int, default=20, help="judged passages per query (default 20)")
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
    kept = reranker.max_length - 3
    rows = [bucket_of(d, len(reranker.tokenizer.encode(d["before"])),
                      kept - len(reranker.tokenizer.encode(queries[d["query"]]))) for d in documents]
    scores = score_documents(reranker, queries, documents, args.window)
    table = ndcg_table(documents, scores, rows)
    print(format_table(table, args.window, reranker.max_length))
    if args.json:
        args.json.write_text(json.dumps({"bundle": str(args.bundle), "data": str(args.data), "seed": args.seed,
                                         "per_query": args.per_query, "window": args.window,
                                         "precision": reranker.precision, "ndcg@10": table}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
