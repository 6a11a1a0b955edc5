"""How much did int8 cost? Agreement metrics between two precisions of one bundle.

Used by the export's fidelity report and quality gate (``report.json`` in a bundle):

- ranking agreement per query pool: Kendall's tau-b, Spearman's rho, top-k overlap;
- nDCG@10 of each precision when judged data (BEIR layout) is given, trec_eval style: linear gains
  (the grade), the ideal ranking made of every judged-relevant document of the query;
- query/candidate pools: a built-in set that ships offline (questions and passages from Python's
  own documentation, ``pydoc_data``), or reranking pools over a user's BEIR folder (BM25 top-k
  from ``bm25s`` when installed, else the judged documents plus random ones).

Everything here is numpy plus the standard library; scoring goes through crossrank's own engine
(:class:`crossrank.Reranker`), BM25 pools through :class:`crossrank.BM25Retriever`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.workloads import prose_paragraphs

__all__ = [
    "Pool",
    "builtin_pools",
    "compare",
    "eval_pools",
    "format_report",
    "kendall_tau",
    "load_beir",
    "make_scorer",
    "ndcg_at_k",
    "score_pools",
    "spearman",
    "topk_overlap",
]

TOP_K = 10


# --------------------------------------------------------------------------------------------
# metrics


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions), 1-based."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    sorted_x = x[order]
    i = 0
    n = len(x)
    while i < n:
        j = i
        while j + 1 < n and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (Pearson on average ranks). NaN when either side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if len(a) < 2:
        return float("nan")
    ra, rb = _ranks(a) - (len(a) + 1) / 2.0, _ranks(b) - (len(b) + 1) / 2.0
    den = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / den if den > 0 else float("nan")


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b (ties in either ranking accounted for, as scipy.stats.kendalltau).

    O(n²) in memory and time: meant for reranking pools (hundreds of candidates), not millions.
    NaN when either side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    n = len(a)
    if n < 2:
        return float("nan")
    iu = np.triu_indices(n, k=1)
    da = np.sign(a[:, None] - a[None, :])[iu]
    db = np.sign(b[:, None] - b[None, :])[iu]
    s = float(np.sum(da * db))
    n_a = float(np.count_nonzero(da))  # pairs not tied in a
    n_b = float(np.count_nonzero(db))
    den = math.sqrt(n_a * n_b)
    return s / den if den > 0 else float("nan")


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties keep input order."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]


def topk_overlap(a: Sequence[float], b: Sequence[float], k: int = TOP_K) -> float:
    """|top-k(a) ∩ top-k(b)| / min(k, n): the share of one ranking's top k the other keeps."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    m = min(k, len(a))
    if m == 0:
        return float("nan")
    return len(set(_top(a, m).tolist()) & set(_top(b, m).tolist())) / m


def ndcg_at_k(scores: Sequence[float], doc_ids: Sequence[str], judgements: Mapping[str, int],
              k: int = TOP_K) -> float:
    """nDCG@k of ranking DOC_IDS by SCORES (best first, ties in input order), trec_eval style:
    gain = grade (linear), discount log2(rank + 1), the ideal made of all judged documents with
    grade > 0 (also those not in the pool). NaN when the query has no relevant judgement."""
    ideal = sorted((g for g in judgements.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return float("nan")
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    dcg = 0.0
    for i, j in enumerate(_top(np.asarray(scores), k)):
        g = judgements.get(doc_ids[j], 0)
        if g > 0:
            dcg += g / math.log2(i + 2)
    return dcg / idcg


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
    """N_POOLS offline query pools of POOL_SIZE passages each: ON_TOPIC passages from the
    query's own topic of the Python reference (``pydoc_data.topics``), the rest from other topics;
    passages of WORDS (low, high) words. Deterministic for a given SEED."""
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


def load_beir(folder: str | Path, split: str = "test") -> tuple[dict[str, str], dict[str, str],
                                                                 dict[str, dict[str, int]]]:
    """(corpus, queries, qrels) of a BEIR folder: ``crossrank.beir.read_beir``."""
    from crossrank.beir import read_beir

    return read_beir(folder, split)


def _bm25_candidates(corpus: dict[str, str], queries: dict[str, str], qids: list[str],
                     depth: int) -> dict[str, list[str]] | None:
    """BM25 top-DEPTH document ids per query (those with a positive score, or the top ones if
    none has), or None when bm25s is not installed."""
    from crossrank.retrieval.lexical import BM25Retriever

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
    """Reranking pools over a BEIR folder: for each judged query (the first MAX_QUERIES of them
    in a seeded random order, all when None), BM25 top-DEPTH from ``bm25s`` when it is installed,
    else the query's judged documents plus random ones up to DEPTH. Returns (pools, qrels, info)."""
    corpus, queries, qrels = load_beir(folder, split)
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

    def __init__(self, reranker) -> None:
        self.reranker = reranker

    def __call__(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        from crossrank.reranker import TruncationWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            return np.asarray(self.reranker.score_pairs(pairs, show_progress=False), dtype=np.float32)


def make_scorer(bundle: str | Path, model_file: str | Path | None = None, *, precision: str = "int8",
                threads: int | None = None):
    """A callable ``pairs -> raw logits of the scored label`` for BUNDLE, running MODEL_FILE
    (default: the bundle's file for PRECISION). Activation is left out: rank metrics do not
    depend on it and raw logits keep differences that a saturated sigmoid would hide."""
    bundle = Path(bundle)
    manifest = json.loads((bundle / "crossrank.json").read_text(encoding="utf-8"))
    files = manifest.get("files") or {}
    path = Path(model_file) if model_file is not None else bundle / files.get(
        precision, "model.onnx" if precision == "fp32" else "model.int8.onnx")
    from crossrank.bundle import Bundle
    from crossrank.reranker import Reranker

    b = Bundle.load(bundle)
    # Exactly MODEL_FILE: the standard graph, not the engine graph the bundle may also list.
    b = dataclasses.replace(b, model_files={**b.model_files, precision: path}, engine_files={},
                            default_precision=precision)
    activation = "none" if b.activation != "softmax" else "softmax"
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

    Returns per-query means of Kendall tau-b, Spearman rho and top-K overlap, the lowest
    overlap, the largest |score difference|, and, with QRELS, nDCG@K of both and their
    difference in points (reference - test, x100: positive = the test precision lost)."""
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


def _f(x: Any, fmt: str = ".3f") -> str:
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
            row = (f"{label:<34} {set_name:<8} {_f(m.get('top10_overlap'))[:6]:>6} "
                   f"{_f(m.get('top10_overlap_min'), '.2f'):>5} {_f(m.get('kendall_tau')):>6} "
                   f"{_f(m.get('spearman')):>6}")
            if has_eval:
                row += (f" {_f(m.get('ndcg@10_reference')):>9} {_f(m.get('ndcg@10_test')):>6} "
                        f"{_f(m.get('ndcg@10_drop_points'), '+.2f'):>8}")
            lines.append(row)
            label = ""
    gate = report.get("gate") or {}
    if gate:
        lines.append(f"quality gate: {gate.get('message', '')}")
    return "\n".join(lines)
