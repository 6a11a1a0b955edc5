"""Latency per pool size: crossrank against the loops users would otherwise write.

Each engine scores one query against N candidate passages; after a warm-up call, every
pool size is timed ``repeats`` times and the median, min and max latency reported.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from crossrank import workloads
from crossrank.bundle import Bundle

ScoreFn = Callable[[str, list[str]], object]


@dataclass
class Measurement:
    engine: str
    pool: int
    median_s: float
    min_s: float
    max_s: float
    pairs_per_s: float
    padding_fraction: float | None = None


def crossrank_engine(bundle: Bundle, precision: str, threads: int | None) -> tuple[ScoreFn, Callable]:
    from crossrank.reranker import Reranker

    reranker = Reranker(bundle, precision=precision, threads=threads)

    def score(query: str, docs: list[str]) -> object:
        return reranker.score_pairs([(query, doc) for doc in docs], show_progress=False)

    return score, lambda: reranker.last_stats.padding_fraction


def ort_naive_engine(bundle: Bundle, precision: str, threads: int | None) -> tuple[ScoreFn, Callable]:
    """What most users write: tokenizers + onnxruntime, batches of 32 in arrival order."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer as HFTokenizer

    from crossrank._system import physical_core_count

    tokenizer = HFTokenizer.from_file(str(bundle.tokenizer_file))
    tokenizer.enable_truncation(bundle.max_length, strategy="longest_first")
    tokenizer.enable_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or physical_core_count()
    session = ort.InferenceSession(str(bundle.model_file(precision)), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    padding = []

    def score(query: str, docs: list[str]) -> object:
        padding.clear()
        out = []
        for start in range(0, len(docs), 32):
            encodings = tokenizer.encode_batch([(query, doc) for doc in docs[start:start + 32]])
            feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
            padding.append((feed["attention_mask"].sum(), feed["attention_mask"].size))
            out.append(session.run(None, feed)[0])
        return np.concatenate(out)

    def padding_fraction() -> float:
        real, total = map(sum, zip(*padding))
        return 1.0 - real / total

    return score, padding_fraction


ENGINES: dict[str, Callable[[Bundle, int | None], tuple[ScoreFn, Callable]]] = {
    "crossrank-int8": lambda b, t: crossrank_engine(b, "int8", t),
    "crossrank-fp32": lambda b, t: crossrank_engine(b, "fp32", t),
    "ort-naive-int8": lambda b, t: ort_naive_engine(b, "int8", t),
    "ort-naive-fp32": lambda b, t: ort_naive_engine(b, "fp32", t),
}


def run(bundle: Bundle, engines: Sequence[str], pools: Sequence[int], *, repeats: int = 3,
        profile: str = "msmarco", threads: int | None = None,
        log: Callable[[str], None] = print) -> list[Measurement]:
    """Time every engine at every pool size on the same passages; returns one row per pair."""
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ValueError(f"unknown engine(s) {unknown}; choose from {sorted(ENGINES)}")
    docs = workloads.passages(max(pools), profile)
    query = workloads.query()
    results = []
    for name in engines:
        try:
            score, padding = ENGINES[name](bundle, threads)
        except ImportError as error:
            log(f"{name}: skipped ({error})")
            continue
        score(query, docs[: min(pools)])  # warm-up: first run allocates and plans
        for pool in pools:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                score(query, docs[:pool])
                times.append(time.perf_counter() - start)
            median = statistics.median(times)
            row = Measurement(name, pool, median, min(times), max(times), pool / median, padding())
            log(f"{name:>16}  pool {pool:>5}  median {median * 1e3:9.1f} ms  {row.pairs_per_s:8.1f} pairs/s"
                f"  padding {row.padding_fraction:6.1%}")
            results.append(row)
    return results


def save_json(results: list[Measurement], path: str | Path, meta: dict) -> None:
    Path(path).write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2))
