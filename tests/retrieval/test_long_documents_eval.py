"""Long documents through stage two: Pipeline and ``crossrank eval`` take the reranker's window
options, eval reports cut documents once; scripts/long_document_quality.py on a synthetic collection."""

from __future__ import annotations

import importlib.util
import json
import random
import warnings
from pathlib import Path

import pytest

from crossrank.reranker import Reranker, TruncationWarning
from crossrank.retrieval.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]
WORDS = "cat mat dog park stock market quark gluon river bank tree leaf".split()


def _long_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


@pytest.fixture(scope="module")
def tiny(tiny_bundle):
    return Reranker(tiny_bundle, precision="fp32", max_length=32)


@pytest.fixture
def synthetic_beir(tmp_path) -> Path:
    """4 judged queries, 6 judged and 30 unjudged passages, some long."""
    rng = random.Random(0)
    folder = tmp_path / "synthetic"
    (folder / "qrels").mkdir(parents=True)
    docs = [(str(i), _long_text(rng, rng.randint(5, 60))) for i in range(36)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n"
                                                 for i, t in docs), encoding="utf-8")
    queries = [(f"q{i}", _long_text(rng, 3)) for i in range(4)]
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n"
                                                  for i, t in queries), encoding="utf-8")
    rows = [f"q{i % 4}\t{i}\t{i % 3}" for i in range(6)] + ["q0\t5\t2"]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n",
                                               encoding="utf-8")
    (folder / "run.trec").write_text("".join(f"q{q} Q0 {d} {r} 1.0 t\n" for q in range(4)
                                             for r, d in enumerate(range(q, 36, 4))), encoding="utf-8")
    return folder


def test_pipeline_scores_pools_with_the_reranker_options(tiny):
    rng = random.Random(1)
    docs = [(f"d{i}", _long_text(rng, 80)) for i in range(5)]
    pipe = Pipeline(None, tiny, corpus=docs, pool_size=5, top_k=5, long_documents="maxp", window=10)
    assert pipe.tokens is None  # windows are cut from texts by the engine
    hits = pipe.rerank("cat park", [d for d, _ in docs])
    assert tiny.last_stats.windows > 5 * 5 and tiny.last_stats.truncated_documents == 0
    want = tiny.score_pairs([("cat park", t) for _, t in docs], long_documents="maxp", window=10)
    assert sorted(h.stage_two_score for h in hits) == sorted(float(s) for s in want)
    with pytest.raises(ValueError, match="stride"):
        Pipeline(None, tiny, corpus=docs, pool_size=5, long_documents="maxp", window=4, stride=5)


def test_eval_takes_long_document_options_and_reports_once(synthetic_beir, tiny_bundle):
    pytest.importorskip("bm25s")
    from crossrank.retrieval.evaluate import run_eval

    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)  # none escapes per query
        result = run_eval(synthetic_beir, trec_run=synthetic_beir / "run.trec", pool=9, model=tiny_bundle,
                          precision="fp32", log=lines.append,
                          long_documents={"long_documents": "maxp", "max_tokens_per_doc": 20})
    assert result["long_documents"]["long_documents"] == "maxp" and result["truncated_documents"] > 0
    assert sum("reranked documents were longer" in line for line in lines) == 1


def _quality_script():
    spec = importlib.util.spec_from_file_location("long_document_quality", REPO / "scripts" / "long_document_quality.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_quality_script_places_the_passage_in_each_third_among_unjudged_fillers():
    script = _quality_script()
    corpus = {f"f{i}": f"filler{i} text" for i in range(40)} | {"p1": "JUDGED ONE", "p2": "JUDGED TWO"}
    qrels = {"q": {"p1": 2, "p2": 0}, "other": {"f0": 1}}  # f0 is judged: never a filler
    documents = script.build_documents(corpus, qrels, per_query=5, seed=1)
    assert [len(documents[b]) for b in script.BUCKETS] == [3, 3, 3]
    for third, bucket in enumerate(script.BUCKETS):
        for document in documents[bucket]:
            if document["query"] == "q":
                before = document["before"].count("filler")
                total = document["text"].count("filler") + 1
                assert 3 * before // total == third and 4 <= total - 1 <= 12
                assert document["grade"] == (2 if "JUDGED ONE" in document["text"] else 0)
            assert document["text"].count("filler0 ") == (document["query"] == "other")
    assert documents == script.build_documents(corpus, qrels, per_query=5, seed=1)  # seeded


def test_quality_script_runs_on_a_synthetic_collection(synthetic_beir, tiny_bundle, tmp_path, capsys):
    script = _quality_script()
    out = tmp_path / "quality.json"
    assert script.main([str(tiny_bundle), "--data", str(synthetic_beir), "--per-query", "3", "--window", "16",
                        "--precision", "fp32", "--json", str(out)]) == 0
    table = json.loads(out.read_text())["ndcg@10"]
    assert list(table) == list(script.BUCKETS) and all(row["documents"] == 7 for row in table.values())
    assert all(0.0 <= row[m] <= 1.0 for row in table.values() for m in (*script.METHODS, "random"))
    assert table["early"]["past_the_cut"] <= table["late"]["past_the_cut"]
    assert "| late | 7 |" in capsys.readouterr().out
    assert script.main([str(tiny_bundle), "--data", str(tmp_path / "absent")]) == 2


def test_eval_command_line_passes_the_options(tmp_path):
    import argparse

    from crossrank.cli.evaluate import _long_documents, add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["eval", str(tmp_path), "--long-documents", "maxp", "--window", "100",
                              "--max-windows", "4"])
    assert _long_documents(args) == {"long_documents": "maxp", "window": 100, "stride": None, "max_windows": 4,
                                     "max_tokens_per_doc": None}
    assert _long_documents(parser.parse_args(["eval", str(tmp_path)])) is None
    capped = _long_documents(parser.parse_args(["eval", str(tmp_path), "--max-tokens-per-doc", "64"]))
    assert capped["long_documents"] == "truncate" and capped["max_tokens_per_doc"] == 64
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", str(tmp_path), "--long-documents", "best"])
