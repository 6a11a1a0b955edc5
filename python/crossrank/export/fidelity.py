"""How much did int8 cost? Agreement between two precisions of one bundle on query pools.

Used by the export's fidelity report and quality gate (``report.json`` in a bundle):

- ranking agreement per query pool (:func:`compare`, metrics in :mod:`crossrank.metrics`):
  Kendall's tau-b, Spearman's rho, top-k overlap, and nDCG@10 of each precision when judged data
  (BEIR layout) is given;
- query/candidate pools: a built-in set that ships offline (questions and passages from Python's
  own documentation, ``pydoc_data``), or reranking pools over a user's BEIR folder (BM25 top-k
  from :class:`~crossrank.retrieval.lexical.BM25Retriever` when bm25s is installed, else the
  judged documents plus random ones).

Everything here is numpy plus the standard library; scoring goes through crossrank's own engine
(:class:`crossrank.reranker.Reranker`), or, for a tokenizer the engine does not read yet, through
ONNX Runtime's Python API (:mod:`crossrank.export.onnx_scorer`).
"""

from __future__ import annotations

import dataclasses
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.beir import read_beir
from crossrank.bundle import MODEL_FILES, Bundle
from crossrank.export.onnx_scorer import OnnxRuntimeScorer, unsupported_tokenizer
from crossrank.metrics import TOP_K, kendall_tau, ndcg_at_k, spearman, topk_overlap
from crossrank.reranker import Reranker, TruncationWarning
from crossrank.retrieval.lexical import BM25Retriever
from crossrank.workloads import prose_paragraphs

__all__ = [
    "Pool",
    "builtin_pools",
    "compare",
    "eval_pools",
    "format_metric",
    "format_report",
    "kendall_tau",
    "make_scorer",
    "ndcg_at_k",
    "score_pools",
    "spearman",
    "topk_overlap",
]


# --------------------------------------------------------------------------------------------
# pools


@dataclass
class Pool:
    """One query and the candidates to rerank for it."""

    query: str
    docs: list[str]
    doc_ids: list[str] = field(default_factory=list)
    query_id: str = ""

    def __post_init__(self) -> None:
        if not self.doc_ids:
            self.doc_ids = [str(i) for i in range(len(self.docs))]
        if len(self.doc_ids) != len(self.docs):
            raise ValueError("doc_ids and docs differ in length")


# Built-in pools: a question about one topic of the Python language reference, reranked over
# passages of that topic and of others. The passages are real English prose (pydoc_data ships
# with CPython), so the pools work offline on any machine.
BUILTIN_QUERIES: tuple[tuple[str, str], ...] = (
    ("try", "what happens when an exception is raised inside a finally clause"),
    ("comparisons", "difference between is and == comparison of objects"),
    ("function", "how are default argument values evaluated in a function definition"),
    ("naming", "how does python resolve names in nested scopes"),
    ("import", "how does the import statement find and load a module"),
    ("assignment", "how does assignment to a target list unpack values"),
    ("attribute-access", "how to customize attribute access with __getattr__"),
    ("calls", "how are arguments matched to parameters in a call"),
    ("formatstrings", "how to format a number with a format specification"),
    ("raise", "how to raise an exception with a cause"),
    ("class", "what happens when a class definition is executed"),
    ("debugger", "how to set a breakpoint in the python debugger"),
)


def _chunks(paragraphs: list[str], low: int, high: int, rng: random.Random) -> list[str]:
    """Passages of LOW..HIGH words cut from consecutive prose of one topic."""
    words = " ".join(paragraphs).split()
    out, i = [], 0
    while i + low <= len(words):
        n = rng.randint(low, high)
        out.append(" ".join(words[i:i + n]))
        i += n
    return out


def builtin_pools(n_pools: int = 10, pool_size: int = 30, *, on_topic: int = 8,
                  words: tuple[int, int] = (25, 60), seed: int = 0) -> list[Pool]:
    """Offline query pools over the Python reference (``pydoc_data.topics``), deterministic for a SEED.

    Args:
        n_pools: how many pools (one per built-in question, 1..12).
        pool_size: passages per pool.
        on_topic: passages from the question's own topic; the rest come from other topics.
        words: (low, high) words per passage.
        seed: the random seed.

    Returns:
        N_POOLS pools of POOL_SIZE passages each.

    Raises:
        ValueError: N_POOLS or POOL_SIZE out of range.
    """
    from pydoc_data.topics import topics

    if not 1 <= n_pools <= len(BUILTIN_QUERIES):
        raise ValueError(f"n_pools must be 1..{len(BUILTIN_QUERIES)}, got {n_pools}")
    if pool_size < 2:
        raise ValueError("pool_size must be at least 2")
    rng = random.Random(seed)
    by_topic = {}
    for name in sorted(topics):
        paragraphs = prose_paragraphs(topics[name], min_words=12, min_wordlike=0.8)
        chunks = _chunks(paragraphs, words[0], words[1], random.Random(name))
        if chunks:
            by_topic[name] = chunks
    pools = []
    for topic, question in BUILTIN_QUERIES[:n_pools]:
        own = list(by_topic.get(topic, []))
        rng.shuffle(own)
        own = own[:min(on_topic, pool_size)]
        docs = [(f"{topic}/{i}", d) for i, d in enumerate(own)]
        others = [(f"{t}/{i}", d) for t, ds in by_topic.items() if t != topic for i, d in enumerate(ds)]
        docs += rng.sample(others, pool_size - len(docs))
        rng.shuffle(docs)
        pools.append(Pool(question, [d for _, d in docs], [i for i, _ in docs], f"builtin:{topic}"))
    return pools


def _bm25_candidates(corpus: dict[str, str], queries: dict[str, str], qids: list[str],
                     depth: int) -> dict[str, list[str]] | None:
    """BM25 top-DEPTH document ids per query (those with a positive score, or the top ones if
    none has), from :class:`~crossrank.retrieval.lexical.BM25Retriever`; None when bm25s is not
    installed."""
    try:
        retriever = BM25Retriever.build(corpus)
    except ImportError:
        return None
    ids = list(corpus)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # depth larger than a tiny corpus: clipped, fine here
        for qid, (docs, scores) in zip(qids, retriever.retrieve_many([queries[q] for q in qids], depth)):
            out[qid] = [ids[int(d)] for d, s in zip(docs, scores) if s > 0] or [ids[int(d)] for d in docs]
    return out


def eval_pools(folder: str | Path, *, depth: int = 100, max_queries: int | None = None,
               seed: int = 0, split: str = "test") -> tuple[list[Pool], dict[str, dict[str, int]],
                                                            dict[str, Any]]:
    """Reranking pools over a BEIR folder.

    For each judged query (the first MAX_QUERIES of them in a seeded random order, all when None),
    BM25 top-DEPTH from ``bm25s`` when it is installed, else the query's judged documents plus
    random ones up to DEPTH.

    Args:
        folder: a BEIR folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv).
        depth: candidates per query.
        max_queries: judged queries to use (None: all).
        seed: the random seed (query sample, fallback candidates).
        split: the qrels file to read.

    Returns:
        (pools, qrels of the pools' queries, info for report.json).

    Raises:
        FileNotFoundError: FOLDER is not a BEIR folder.
        ValueError: no query has a relevant judgement.
    """
    corpus, queries, qrels = read_beir(folder, split)
    judged = [q for q in queries if any(g > 0 for g in qrels.get(q, {}).values())]
    if not judged:
        raise ValueError(f"{folder}: no query of queries.jsonl has a relevant judgement in qrels/{split}.tsv")
    rng = random.Random(seed)
    if max_queries is not None and max_queries < len(judged):
        judged = sorted(rng.sample(judged, max_queries), key=judged.index)
    cands = _bm25_candidates(corpus, queries, judged, depth)
    if cands is not None:
        method = f"bm25s top-{depth} (BM25 over title + text, English stopwords)"
    else:
        method = (f"bm25s not installed: judged documents of the query plus random documents, "
                  f"{depth} candidates per query (easier than a BM25 pool)")
        ids = list(corpus)
        cands = {}
        for q in judged:
            own = [d for d in qrels[q] if d in corpus][:depth]
            mine = set(own)
            rest = [d for d in rng.sample(ids, min(len(ids), depth + len(own))) if d not in mine]
            pool = own + rest[:depth - len(own)]
            rng.shuffle(pool)
            cands[q] = pool
    pools = [Pool(queries[q], [corpus[d] for d in cands[q]], list(cands[q]), q) for q in judged]
    info = {"folder": str(Path(folder).expanduser().resolve()), "split": split,
            "queries": len(pools), "judged_queries": len([q for q in queries if qrels.get(q)]),
            "candidates": method, "depth": depth, "pairs": sum(len(p.docs) for p in pools),
            "seed": seed}
    return pools, {q: qrels[q] for q in judged}, info


# --------------------------------------------------------------------------------------------
# scoring


class _EngineScorer:
    engine = "crossrank engine (Reranker, C++ tokenizer and batching, ONNX Runtime C API)"

    def __init__(self, reranker: Reranker) -> None:
        self.reranker = reranker

    def __call__(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            return np.asarray(self.reranker.score_pairs(pairs, show_progress=False), dtype=np.float32)


def make_scorer(bundle: str | Path, model_file: str | Path | None = None, *, precision: str = "int8",
                threads: int | None = None) -> _EngineScorer | OnnxRuntimeScorer:
    """A callable ``pairs -> raw logits of the scored label`` through crossrank's engine (through
    ONNX Runtime's Python API where the engine does not read the bundle's tokenizer yet).

    Activation is left out: rank metrics do not depend on it and raw logits keep differences
    that a saturated sigmoid would hide.

    Args:
        bundle: the bundle folder (read once, through :class:`crossrank.bundle.Bundle`).
        model_file: the graph to run (default: the bundle's file for PRECISION).
        precision: "int8" or "fp32": how the engine treats MODEL_FILE.
        threads: engine threads (default: the engine's).
    """
    b = Bundle.load(bundle)
    if model_file is not None:
        path = Path(model_file)
    else:
        path = b.model_files.get(precision, b.path / MODEL_FILES[precision])
    # Exactly MODEL_FILE: the standard graph, not the engine graph the bundle may also list.
    b = dataclasses.replace(b, model_files={**b.model_files, precision: path}, engine_files={},
                            default_precision=precision)
    activation = "none" if b.activation != "softmax" else "softmax"
    if unsupported_tokenizer(b.tokenizer_file):
        return OnnxRuntimeScorer(path, b.tokenizer_file, max_length=b.max_length, score_index=b.score_index,
                                 softmax=activation == "softmax", threads=threads)
    return _EngineScorer(Reranker(b, precision=precision, activation=activation, threads=threads))


def score_pools(scorer, pools: Sequence[Pool]) -> list[np.ndarray]:
    """Scores every pool in one call (so the engine batches across pools); one array per pool."""
    pairs = [(p.query, d) for p in pools for d in p.docs]
    flat = scorer(pairs) if pairs else np.zeros(0, dtype=np.float32)
    out, i = [], 0
    for p in pools:
        out.append(np.asarray(flat[i:i + len(p.docs)], dtype=np.float64))
        i += len(p.docs)
    return out


# --------------------------------------------------------------------------------------------
# comparison


def _mean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x == x]
    return float(np.mean(xs)) if xs else None


def compare(reference: Sequence[np.ndarray], test: Sequence[np.ndarray], pools: Sequence[Pool], *,
            qrels: Mapping[str, Mapping[str, int]] | None = None, k: int = TOP_K) -> dict[str, Any]:
    """Agreement of TEST scores with REFERENCE scores (e.g. int8 vs fp32), pool by pool.

    Args:
        reference: one score array per pool (e.g. fp32).
        test: one score array per pool (e.g. int8).
        pools: the pools scored (their query ids and document ids, for nDCG).
        qrels: judgements per query id; adds nDCG@K.
        k: the top-k of overlap and nDCG.

    Returns:
        Per-query means of Kendall tau-b, Spearman rho and top-K overlap, the lowest overlap, the
        largest |score difference|, and, with QRELS, nDCG@K of both and their difference in points
        (reference - test, x100: positive = the test precision lost).

    Raises:
        ValueError: REFERENCE, TEST and POOLS differ in length.
    """
    if not (len(reference) == len(test) == len(pools)):
        raise ValueError("reference, test and pools differ in length")
    taus, rhos, overlaps, diffs = [], [], [], []
    for r, t in zip(reference, test):
        r, t = np.asarray(r, dtype=np.float64), np.asarray(t, dtype=np.float64)
        if len(r) == 0:
            continue
        taus.append(kendall_tau(r, t))
        rhos.append(spearman(r, t))
        overlaps.append(topk_overlap(r, t, k))
        diffs.append(float(np.max(np.abs(r - t))))
    out: dict[str, Any] = {
        "pools": len(pools),
        "pairs": int(sum(len(p.docs) for p in pools)),
        f"top{k}_overlap": _mean(overlaps),
        f"top{k}_overlap_min": float(min(overlaps)) if overlaps else None,
        "kendall_tau": _mean(taus),
        "spearman": _mean(rhos),
        "max_abs_score_diff": float(max(diffs)) if diffs else None,
    }
    if qrels is not None:
        n_ref, n_test = [], []
        for p, r, t in zip(pools, reference, test):
            j = qrels.get(p.query_id) or {}
            a, b = ndcg_at_k(r, p.doc_ids, j, k), ndcg_at_k(t, p.doc_ids, j, k)
            if a == a and b == b:
                n_ref.append(a)
                n_test.append(b)
        if n_ref:
            ref_mean, test_mean = float(np.mean(n_ref)), float(np.mean(n_test))
            out[f"ndcg@{k}_reference"] = ref_mean
            out[f"ndcg@{k}_test"] = test_mean
            out[f"ndcg@{k}_drop_points"] = 100.0 * (ref_mean - test_mean)
            out["judged_queries"] = len(n_ref)
    return out


# --------------------------------------------------------------------------------------------
# printing


def format_metric(x: Any, fmt: str = ".3f") -> str:
    """X in FMT, or a dash for a missing value."""
    return "—" if x is None else format(x, fmt)


def format_report(report: Mapping[str, Any]) -> str:
    """A short table of report.json: one row per int8 variant tried, and the gate's decision."""
    lines = []
    ver = report.get("fp32_vs_pytorch") or {}
    if ver.get("max_abs_diff") is not None:
        lines.append(f"fp32 vs PyTorch: max |Δ logit| {ver['max_abs_diff']:.2g} on {ver.get('pairs')} pairs")
    sets = report.get("pool_sets") or {}
    for name, info in sets.items():
        lines.append(f"{name} pools: {info.get('pools')} queries, {info.get('pairs')} pairs"
                     + (f" ({info['candidates']})" if info.get("candidates") else ""))
    has_eval = any(v.get("metrics", {}).get("eval") for v in report.get("variants", []))
    head = f"{'int8 vs fp32':<34} {'set':<8} {'top10':>6} {'min':>5} {'tau':>6} {'rho':>6}"
    if has_eval:
        head += f" {'nDCG fp32':>9} {'int8':>6} {'drop pt':>8}"
    lines.append(head)
    for v in report.get("variants", []):
        label = v["name"] + (" *" if v.get("chosen") else "")
        for set_name, m in (v.get("metrics") or {}).items():
            if not m:
                continue
            row = (f"{label:<34} {set_name:<8} {format_metric(m.get('top10_overlap'))[:6]:>6} "
                   f"{format_metric(m.get('top10_overlap_min'), '.2f'):>5} {format_metric(m.get('kendall_tau')):>6} "
                   f"{format_metric(m.get('spearman')):>6}")
            if has_eval:
                row += (f" {format_metric(m.get('ndcg@10_reference')):>9} {format_metric(m.get('ndcg@10_test')):>6} "
                        f"{format_metric(m.get('ndcg@10_drop_points'), '+.2f'):>8}")
            lines.append(row)
            label = ""
    gate = report.get("gate") or {}
    if gate:
        lines.append(f"quality gate: {gate.get('message', '')}")
    return "\n".join(lines)
