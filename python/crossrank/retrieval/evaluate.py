"""Evaluation on BEIR-layout collections: loading, trec_eval metrics, ``crossrank eval``.

A BEIR folder holds ``corpus.jsonl`` ({"_id", "title", "text"}), ``queries.jsonl`` ({"_id", "text"})
and ``qrels/<split>.tsv`` (``query-id  corpus-id  score`` with a header). Documents are searched as
``title + " " + text``; only queries with judgements are evaluated.

Metrics are trec_eval's definitions (:mod:`crossrank.metrics`, checked against ir-measures in the
tests): nDCG@10 with linear gains over judged-relevant documents, RR@10 (MRR@10) and R@pool, with
grade >= 1 counting as relevant (``relevance_level``). They read a ranking's order, never its
scores, so tied scores cannot be reordered by trec_eval's docid tie-break.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank.beir import read_beir
from crossrank.metrics import ndcg, recall, reciprocal_rank
from crossrank.reranker import Reranker, TruncationWarning
from crossrank.retrieval.base import Retriever, load_retriever, read_manifest
from crossrank.retrieval.corpus import Corpus
from crossrank.retrieval.dense import DenseRetriever
from crossrank.retrieval.encoder import BiEncoder
from crossrank.retrieval.hybrid import HybridRetriever
from crossrank.retrieval.lexical import BM25Retriever
from crossrank.retrieval.pipeline import Pipeline

__all__ = ["RETRIEVERS", "BeirData", "evaluate_rankings", "format_result", "load_beir", "read_trec_run", "run_eval"]

RETRIEVERS = ("bm25", "dense", "hybrid")


@dataclass
class BeirData:
    name: str
    corpus: Corpus
    queries: dict[str, str]  # judged queries only, in file order
    qrels: dict[str, dict[str, int]]


def load_beir(folder: str | Path, *, split: str = "test") -> BeirData:
    """Read a BEIR-layout folder; keeps the queries that have judgements in ``qrels/<split>.tsv``."""
    corpus, all_queries, qrels = read_beir(folder, split)
    queries = {q: text for q, text in all_queries.items() if q in qrels}
    qrels = {q: judged for q, judged in qrels.items() if q in queries}
    return BeirData(Path(folder).name, Corpus(list(corpus), list(corpus.values())), queries, qrels)


def read_trec_run(path: str | Path) -> dict[str, list[tuple[str, float]]]:
    """A TREC run file (``qid Q0 docid rank score tag``): per query, (docid, score) best first.

    Order: score descending, ties in file order.
    """
    run: dict[str, list[tuple[str, float, int]]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 6:
                raise ValueError(f"{path}:{number + 1}: expected 'qid Q0 docid rank score tag', got {line.strip()!r}")
            run.setdefault(parts[0], []).append((parts[2], float(parts[4]), number))
    return {q: [(d, s) for d, s, _ in sorted(rows, key=lambda r: (-r[1], r[2]))] for q, rows in run.items()}


def evaluate_rankings(qrels: Mapping[str, Mapping[str, int]], rankings: Mapping[str, Sequence[str]],
                      *, depth: int, relevance_level: int = 1) -> dict[str, float]:
    """nDCG@10, MRR@10 and Recall@depth of ranked doc-id lists (best first), averaged over the
    judged queries (a judged query missing from ``rankings``, or without a relevant document,
    counts as 0), as trec_eval computes them (:mod:`crossrank.metrics`).

    ``relevance_level``: the lowest grade MRR and recall count as relevant (TREC DL's official
    MRR / recall use 2); nDCG always uses the grades as gains.
    """
    names = ("ndcg@10", "mrr@10", f"recall@{depth}")
    if not qrels:
        return dict.fromkeys(names, 0.0)
    totals = dict.fromkeys(names, 0.0)
    for qid, judgements in qrels.items():
        ranking = list(dict.fromkeys(rankings.get(qid) or []))  # a repeated document counts once
        gain = ndcg(ranking, judgements, 10)
        totals[names[0]] += 0.0 if gain != gain else gain  # NaN: no relevant document
        totals[names[1]] += reciprocal_rank(ranking, judgements, 10, relevance_level)
        totals[names[2]] += recall(ranking, judgements, depth, relevance_level)
    return {name: total / len(qrels) for name, total in totals.items()}


def _build_retriever(kind: str, corpus: Corpus, index: Path | None, threads: int | None) -> tuple[Retriever, str]:
    encoder = BiEncoder(threads=threads) if kind in ("dense", "hybrid") else None
    if index is not None and (index / "retriever.json").is_file():
        if read_manifest(index)["kind"] != kind:
            raise ValueError(f"{index} holds a {read_manifest(index)['kind']} index, not {kind}")
        kwargs = {"encoder": encoder} if encoder is not None else {}
        retriever = load_retriever(index, **kwargs)
        if retriever.corpus != corpus:
            raise ValueError(f"{index} was built from another corpus; remove it or choose another --index")
        return retriever, "loaded"
    if kind == "bm25":
        retriever = BM25Retriever.build(corpus)
    elif kind == "dense":
        retriever = DenseRetriever.build(corpus, encoder=encoder, show_progress=sys.stderr.isatty())
    else:
        retriever = HybridRetriever.build(corpus, encoder=encoder, show_progress=sys.stderr.isatty())
    if index is not None:
        retriever.save(index)
    return retriever, "built"


@dataclass
class _StageOne:
    """Where stage one's candidates come from: a retriever, or a TREC run's rows (retriever None)."""

    name: str
    retriever: Retriever | None
    run: dict[str, list[tuple[str, float]]]
    how: str  # "read", "given", "built" or "loaded"
    seconds: float


@dataclass
class _Rankings:
    """Per judged query: stage one's pool and the reranked order (doc ids, best first), with timings."""

    stage_one: dict[str, list[str]] = field(default_factory=dict)
    reranked: dict[str, list[str]] = field(default_factory=dict)
    stage_one_s: list[float] = field(default_factory=list)
    stage_two_s: list[float] = field(default_factory=list)
    pool_sizes: list[int] = field(default_factory=list)
    missing: int = 0  # run entries naming documents absent from the corpus
    truncated: int = 0  # reranked documents with tokens the reranker did not see


def _stage_one(beir: BeirData, retriever: str | Retriever, trec_run: str | Path | None,
               index: str | Path | None, threads: int | None) -> _StageOne:
    t0 = time.perf_counter()
    if trec_run is not None:
        return _StageOne(f"run:{Path(trec_run).name}", None, read_trec_run(trec_run), "read",
                         time.perf_counter() - t0)
    if not isinstance(retriever, str):
        if retriever.corpus != beir.corpus:
            raise ValueError("the retriever was built over another corpus than the folder's")
        return _StageOne(retriever.kind, retriever, {}, "given", 0.0)
    if retriever not in RETRIEVERS:
        raise ValueError(f"retriever must be one of {RETRIEVERS}, got {retriever!r}")
    built, how = _build_retriever(retriever, beir.corpus, Path(index) if index else None, threads)
    return _StageOne(retriever, built, {}, how, time.perf_counter() - t0)


def _rank_queries(pipe: Pipeline, queries: list[tuple[str, str]], stage: _StageOne, corpus: Corpus) -> _Rankings:
    """Run every query through PIPE: stage one from the retriever or the run, then the reranker.

    The reranker's per-call TruncationWarning is held back: its counts add up in ``truncated``.
    """
    out = _Rankings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        for qid, text in queries:
            _rank_query(pipe, qid, text, stage, corpus, out)
    return out


def _rank_query(pipe: Pipeline, qid: str, text: str, stage: _StageOne, corpus: Corpus, out: _Rankings) -> None:
    """One query of :func:`_rank_queries`: its pools, rankings, timings and truncation count into OUT."""
    if stage.retriever is None:
        rows = stage.run.get(qid, [])
        kept = [(d, s) for d, s in rows if d in corpus]
        out.missing += len(rows) - len(kept)
        if not kept:
            out.stage_one[qid] = out.reranked[qid] = []
            return
        hits = pipe.rerank(text, [d for d, _ in kept], [s for _, s in kept])
    else:
        hits = pipe.search(text)
    out.stage_one[qid] = pipe.last_pool.ids
    out.pool_sizes.append(len(pipe.last_pool))
    out.stage_one_s.append(pipe.last_timings.stage_one_s)
    if pipe.reranker is not None:
        out.reranked[qid] = [h.id for h in hits]
        out.stage_two_s.append(pipe.last_timings.stage_two_s)
        stats = pipe.reranker.last_stats
        out.truncated += stats.truncated_documents if stats is not None else 0


def _median_ms(values: list[float]) -> float | None:
    return round(1000 * statistics.median(values), 3) if values else None


def run_eval(data: str | Path, *, retriever: str | Any = "bm25", model: str | Path | None = None, pool: int = 100,
             trec_run: str | Path | None = None, index: str | Path | None = None, split: str = "test",
             dedupe: str | None = "id", precision: str | None = None, threads: int | None = None,
             limit: int | None = None, relevance_level: int = 1, log=print,
             long_documents: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Stage one (and, with a bundle, stage two) over a BEIR folder; returns the results dict.

    ``retriever``: "bm25", "dense", "hybrid", or a ready Retriever over this folder's corpus.
    ``trec_run``: take stage one from a TREC run file instead of a retriever (e.g. TREC DL's
    shipped BM25 top-100). ``index``: a folder to load the stage-one index from, or to save it
    to once built. ``limit``: evaluate the first N judged queries only. ``long_documents``: the
    reranker's long-document options (``{"long_documents": "maxp", "window": ...}``, see
    :meth:`crossrank.reranker.Reranker.score_pairs`); the documents it could not score whole are
    reported in one line at the end, not warned per query.
    """
    beir = load_beir(data, split=split)
    queries = list(beir.queries.items())[:limit] if limit else list(beir.queries.items())
    qrels = {q: beir.qrels[q] for q, _ in queries}
    stage = _stage_one(beir, retriever, trec_run, index, threads)
    reranker = Reranker(model, precision=precision, threads=threads) if model is not None else None
    t0 = time.perf_counter()
    pipe = Pipeline(stage.retriever, reranker, pool_size=min(pool, len(beir.corpus)), top_k=pool, dedupe=dedupe,
                    corpus=beir.corpus if stage.retriever is None else None, **(long_documents or {}))
    pretokenize_s = time.perf_counter() - t0
    log(f"{beir.name}: {len(beir.corpus)} documents, {len(queries)} judged queries; stage one {stage.name} "
        f"({stage.how} in {stage.seconds:.1f} s)" + (f"; reranker {model}" if model else ""))
    ranked = _rank_queries(pipe, queries, stage, beir.corpus)
    if ranked.missing:
        log(f"warning: {ranked.missing} run entries name documents absent from the corpus; skipped")
    if ranked.truncated:
        log(f"warning: {ranked.truncated} reranked documents were longer than the reranker scores "
            f"({dict(long_documents or {}) or 'truncation'}); see --long-documents")

    result: dict[str, Any] = {
        "dataset": beir.name, "data": str(data), "documents": len(beir.corpus), "queries": len(queries),
        "stage_one": stage.name, "pool": pool, "dedupe": dedupe, "index": stage.how,
        "index_s": round(stage.seconds, 2), "model": str(model) if model else None,
        "pretokenize_s": round(pretokenize_s, 2), "relevance_level": relevance_level,
        "metrics": {"stage_one": evaluate_rankings(qrels, ranked.stage_one, depth=pool,
                                                   relevance_level=relevance_level)},
        "median_latency_ms": {"stage_one": _median_ms(ranked.stage_one_s)},
        "mean_pool_size": round(sum(ranked.pool_sizes) / len(ranked.pool_sizes), 2) if ranked.pool_sizes else 0,
    }
    if reranker is not None:
        result["metrics"]["reranked"] = evaluate_rankings(qrels, ranked.reranked, depth=pool,
                                                          relevance_level=relevance_level)
        result["median_latency_ms"]["stage_two"] = _median_ms(ranked.stage_two_s)
        result["precision"] = reranker.precision
        result["long_documents"] = dict(long_documents or {"long_documents": "truncate"})
        result["truncated_documents"] = ranked.truncated
    return result


def format_result(result: dict[str, Any]) -> str:
    """The terminal table of :func:`run_eval`'s result: one row per stage."""
    pool = result["pool"]
    head = f"{'stage':<22} {'nDCG@10':>8} {'MRR@10':>8} {f'R@{pool}':>8} {'median ms':>10}"
    lines = [f"{result['dataset']} ({result['documents']} docs, {result['queries']} queries)", head]
    for key, label in (("stage_one", result["stage_one"]), ("reranked", f"+ rerank ({result.get('precision')})")):
        if key not in result["metrics"]:
            continue
        m = result["metrics"][key]
        lat = result["median_latency_ms"]["stage_one" if key == "stage_one" else "stage_two"]
        lines.append(f"{label:<22} {m['ndcg@10']:>8.4f} {m['mrr@10']:>8.4f} {m[f'recall@{pool}']:>8.4f} {lat:>10.2f}")
    if "reranked" in result["metrics"]:
        lines.append("(latency of '+ rerank' is stage two alone; add stage one for the total)")
    return "\n".join(lines)
