#!/usr/bin/env python3
"""Long documents: windows/s and ms per document of crossrank's MaxP, beside a sentence-transformers
loop that windows in Python.

    python scripts/bench_long_documents.py [BUNDLE] [--tokens 1000,4000,16000] [--pools 10,100]
        [--repeats 3] [--window W] [--no-peer] [--json OUT]

Documents of about N tokens each are real prose (crossrank.workloads); crossrank scores them with
``long_documents="maxp"`` (every window in one engine call), the peer tokenizes each document with
the model's Hugging Face tokenizer, decodes the same windows back to text and calls
``CrossEncoder.predict`` on them (batches of 32), then takes each document's best window. Also
times a 16x longer document cut by ``max_tokens_per_doc`` to the same length: the cut-off part should
cost nothing. Timings are medians of --repeats calls; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from crossrank import workloads
from crossrank.benchmark.peers import hf_folder
from crossrank.default_model import default_model
from crossrank.reranker import Reranker, TruncationWarning


def document(reranker: Reranker, tokens: int, seed: int) -> str:
    """Prose of about TOKENS tokens (whole passages, then words up to the count)."""
    words: list[str] = []
    batch = 0
    while len(reranker.tokenizer.encode(" ".join(words))) < tokens:
        words += " ".join(workloads.passages(8, profile="long", seed=seed * 1000 + batch)).split()
        batch += 1
    low, high = 0, len(words)
    while low < high:  # the fewest words that reach TOKENS
        middle = (low + high) // 2
        if len(reranker.tokenizer.encode(" ".join(words[:middle]))) >= tokens:
            high = middle
        else:
            low = middle + 1
    return " ".join(words[:low])


def median_s(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peer_maxp(model, query: str, docs: list[str], window: int, stride: int) -> np.ndarray:
    """The loop a sentence-transformers user writes: window the ids in Python, decode, predict, max."""
    tokenizer = model.tokenizer
    pairs, owner = [], []
    for index, doc in enumerate(docs):
        ids = tokenizer(doc, add_special_tokens=False)["input_ids"]
        for begin in range(0, max(len(ids) - window, 0) + stride, stride):
            pairs.append((query, tokenizer.decode(ids[begin:begin + window])))
            owner.append(index)
            if begin + window >= len(ids):
                break
    scores = model.predict(pairs, batch_size=32, show_progress_bar=False)
    best = np.full(len(docs), -np.inf)
    np.maximum.at(best, np.array(owner), scores)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", nargs="?", type=Path, default=None, help="default: the embedded default model")
    ap.add_argument("--tokens", default="1000,4000,16000")
    ap.add_argument("--pools", default="10,100")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--window", type=int, default=None, help="document tokens per window (default: what fits)")
    ap.add_argument("--no-peer", action="store_true", help="crossrank only")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    reranker = Reranker(args.bundle or default_model())
    query = workloads.query(0)
    window = args.window or reranker.max_length - 3 - len(reranker.tokenizer.encode(query))
    stride = max(1, window * 3 // 4)
    peer = None
    if not args.no_peer:
        from sentence_transformers import CrossEncoder

        peer = CrossEncoder(str(hf_folder(reranker.bundle)), max_length=reranker.max_length, device="cpu")
    rows = []
    options = {"long_documents": "maxp", "window": args.window, "max_windows": 1 << 20}
    warnings.simplefilter("ignore", TruncationWarning)
    for tokens in map(int, args.tokens.split(",")):
        for pool in map(int, args.pools.split(",")):
            docs = [document(reranker, tokens, seed) for seed in range(pool)]
            pairs = [(query, doc) for doc in docs]
            ours = median_s(lambda: reranker.score_pairs(pairs, **options), args.repeats)
            windows = reranker.last_stats.windows
            longer = [(query, doc + " " + doc) for doc in docs]  # twice the text, cut back to TOKENS
            cut = median_s(lambda: reranker.score_pairs(longer, **options, max_tokens_per_doc=tokens), args.repeats)
            row = {"tokens": tokens, "pool": pool, "windows": windows, "crossrank_s": ours,
                   "windows_per_s": windows / ours, "ms_per_document": 1000 * ours / pool,
                   "cut_double_s": cut}
            if peer is not None:
                theirs = median_s(lambda: peer_maxp(peer, query, docs, window, stride), args.repeats)
                row |= {"peer_s": theirs, "peer_ms_per_document": 1000 * theirs / pool, "speedup": theirs / ours}
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"bundle": str(reranker.bundle.path), "window": window, "stride": stride,
                                         "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
