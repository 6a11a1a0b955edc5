"""Evaluation: metrics against hand-computed values, BEIR loading, the eval command."""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import pytest

pytest.importorskip("bm25s")

from crossrank.cli.evaluate import add_parser as add_eval_parser  # noqa: E402
from crossrank.retrieval.evaluate import (  # noqa: E402
    evaluate_rankings,
    format_result,
    load_beir,
    read_trec_run,
    run_eval,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _ir_measures_reference(qrels, rankings, depth, relevance_level):
    """What evaluate_rankings computed before crossrank had its own metrics: ir-measures (trec_eval)."""
    ir = pytest.importorskip("ir_measures")
    measures = {"ndcg@10": ir.nDCG @ 10, "mrr@10": ir.RR(rel=relevance_level) @ 10,
                f"recall@{depth}": ir.R(rel=relevance_level) @ depth}
    run = {q: {d: float(len(docs) - r) for r, d in enumerate(docs)} for q, docs in rankings.items() if docs}
    totals = dict.fromkeys(measures, 0.0)
    for metric in ir.iter_calc(list(measures.values()), qrels, run):
        for name, measure in measures.items():
            if metric.measure == measure:
                totals[name] += metric.value
    return {name: total / len(qrels) for name, total in totals.items()}


@pytest.mark.parametrize("seed", range(6))
def test_metrics_equal_ir_measures_on_random_judgements_and_rankings(seed):
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(60)]
    qrels, rankings = {}, {}
    for q in range(40):
        judged = rng.sample(docs, rng.randint(1, 25))
        # graded 0-3; some queries have no relevant document, some grade 1 only
        qrels[f"q{q}"] = {d: rng.choice((0, 0, 1, 2, 3)) if q % 7 else 0 for d in judged}
        if q % 5:  # every fifth judged query is missing from the run
            rankings[f"q{q}"] = rng.sample(docs, rng.randint(0, 40))
    for depth in (5, 100):
        for level in (1, 2):
            got = evaluate_rankings(qrels, rankings, depth=depth, relevance_level=level)
            want = _ir_measures_reference(qrels, rankings, depth, level)
            assert got == pytest.approx(want, abs=1e-12), (depth, level)


def test_metrics_match_a_hand_computed_case():
    qrels = {"q1": {"d1": 2, "d2": 0, "d3": 1, "d9": 1}, "q2": {"a": 1}}
    rankings = {"q1": ["d2", "d1", "d4", "d3"], "q2": ["x", "y"]}
    got = evaluate_rankings(qrels, rankings, depth=3)
    # q1: gains 0, 2, 0, 1 at ranks 1..4; ideal 2, 1, 1 (judged-relevant documents only)
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    idcg = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    # q2: nothing relevant retrieved -> 0 for every measure
    assert got["ndcg@10"] == pytest.approx((dcg / idcg + 0) / 2, abs=1e-12)
    assert got["mrr@10"] == pytest.approx((1 / 2 + 0) / 2)
    assert got["recall@3"] == pytest.approx((1 / 3 + 0) / 2)  # d1 of {d1, d3, d9} in the top 3


def test_metrics_follow_the_given_order_not_docids():
    # trec_eval breaks score ties by docid; rankings are passed as ranks, so order is ours
    qrels = {"q": {"a": 1}}
    assert evaluate_rankings(qrels, {"q": ["z", "a"]}, depth=2)["mrr@10"] == 0.5
    assert evaluate_rankings(qrels, {"q": ["a", "z"]}, depth=2)["mrr@10"] == 1.0
    assert evaluate_rankings(qrels, {}, depth=2)["ndcg@10"] == 0.0  # missing query counts as 0


def test_relevance_level():
    qrels = {"q": {"a": 1, "b": 2}}
    got = evaluate_rankings(qrels, {"q": ["a", "b"]}, depth=1, relevance_level=2)
    assert got["mrr@10"] == 0.5 and got["recall@1"] == 0.0
    assert evaluate_rankings(qrels, {"q": ["a", "b"]}, depth=1)["recall@1"] == 0.5


@pytest.fixture()
def beir(tmp_path) -> Path:
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    docs = [("10", "Cats", "The cat sat on the mat."), ("11", "", "Dogs run in the park."),
            ("12", "Markets", "The stock market fell."), ("13", "Physics", "Quarks and gluons interact strongly.")]
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs), encoding="utf-8")
    queries = [("1", "cat on a mat"), ("2", "stock market"), ("3", "unjudged query"), ("4", "gluons")]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\t10\t1\n2\t12\t2\n2\t11\t0\n4\t13\t1\n", encoding="utf-8")
    (folder / "run.trec").write_text(
        "1 Q0 11 1 5.0 t\n1 Q0 10 2 4.0 t\n2 Q0 12 1 3.0 t\n4 Q0 99 1 1.0 t\n4 Q0 13 2 0.5 t\n", encoding="utf-8")
    return folder


def test_load_beir(beir):
    data = load_beir(beir)
    assert data.corpus.ids == ["10", "11", "12", "13"]
    assert data.corpus.texts[0] == "Cats The cat sat on the mat." and data.corpus.texts[1] == "Dogs run in the park."
    assert list(data.queries) == ["1", "2", "4"]  # judged only
    assert data.qrels["2"] == {"12": 2, "11": 0}
    with pytest.raises(FileNotFoundError, match="not a BEIR folder"):
        load_beir(beir / "qrels")


def test_read_trec_run(beir):
    run = read_trec_run(beir / "run.trec")
    assert run["1"] == [("11", 5.0), ("10", 4.0)] and run["4"][0] == ("99", 1.0)


def test_run_eval_bm25_and_trec_run(beir, capsys):
    result = run_eval(beir, retriever="bm25", pool=3, log=lambda m: None)
    m = result["metrics"]["stage_one"]
    assert result["queries"] == 3 and result["documents"] == 4
    assert m["ndcg@10"] == pytest.approx(1.0) and m["mrr@10"] == 1.0 and m["recall@3"] == 1.0
    assert result["median_latency_ms"]["stage_one"] >= 0
    assert "stage_two" not in result["median_latency_ms"]
    assert "nDCG@10" in format_result(result)
    run = run_eval(beir, trec_run=beir / "run.trec", pool=2, log=lambda m: None)["metrics"]["stage_one"]
    # q1: relevant at rank 2; q2: rank 1; q4: 99 is unknown, 13 then ranks first
    assert run["mrr@10"] == pytest.approx((0.5 + 1 + 1) / 3)


def test_eval_command_line(beir, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="crossrank")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "r.json"
    args = parser.parse_args(["eval", str(beir), "--retriever", "bm25", "--pool", "3", "--json", str(out),
                              "--index", str(tmp_path / "idx")])
    assert args.run(args) == 0
    assert "bm25" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["metrics"]["stage_one"]["recall@3"] == 1.0 and saved["index"] == "built"
    assert args.run(args) == 0 and json.loads(out.read_text())["index"] == "loaded"
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", str(beir), "--pool", "0"])
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", str(beir), "--retriever", "faiss"])


def test_run_eval_with_reranker(beir, tiny_bundle):
    result = run_eval(beir, retriever="bm25", pool=4, model=tiny_bundle, precision="fp32", log=lambda m: None)
    assert set(result["metrics"]) == {"stage_one", "reranked"}
    # reranking reorders the same pool: recall at the pool depth is unchanged
    assert result["metrics"]["reranked"]["recall@4"] == result["metrics"]["stage_one"]["recall@4"]
    assert result["median_latency_ms"]["stage_two"] > 0


@pytest.mark.skipif(not (SHARED_DATA / "trec-dl-2020" / "runs").is_dir(), reason="../shared/data is not here")
def test_shipped_trec_dl_bm25_run_scores_as_documented():
    result = run_eval(SHARED_DATA / "trec-dl-2020", trec_run=SHARED_DATA / "trec-dl-2020" / "runs" / "bm25.top100.trec",
                      pool=100, log=lambda m: None)
    assert result["metrics"]["stage_one"]["ndcg@10"] == pytest.approx(0.4796, abs=5e-5)
