"""``crossrank score``: every row scored once, in order, equal to score_pairs; resumable; bad rows named."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from crossrank.batch import runner as runner_module
from crossrank.batch.formats import Chunk
from crossrank.batch.runner import ScoreFileJob, in_process_scorer, score_file
from crossrank.cli import main
from crossrank.reranker import Reranker

WORDS = "the quick brown fox jumps over a lazy dog while search engines rank passages for queries".split()


def make_rows(count: int, seed: int = 0) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [{"query_id": i // 7, "query": " ".join(rng.choices(WORDS, k=rng.randint(2, 6))),
             "document": " ".join(rng.choices(WORDS, k=rng.randint(0, 60))), "doc_id": f"d{i}"}
            for i in range(count)]


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def read_jsonl(path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def reranker(tiny_bundle):
    return Reranker(tiny_bundle, threads=2)


def expected_scores(reranker, rows) -> np.ndarray:
    return reranker.score_pairs([(r["query"], r["document"]) for r in rows], show_progress=False)


@pytest.mark.parametrize("out_suffix", ["jsonl", "tsv", "parquet"])
def test_every_row_once_in_order_equal_to_score_pairs(tmp_path, tiny_bundle, reranker, out_suffix):
    if out_suffix == "parquet":
        pytest.importorskip("pyarrow")
    rows = make_rows(1234)
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows)
    out = tmp_path / f"scored.{out_suffix}"
    assert main(["score", str(source), "--out", str(out), "--model", str(tiny_bundle), "--chunk-rows", "500",
                 "--quiet"]) == 0
    if out_suffix == "jsonl":
        got = read_jsonl(out)
        assert [{k: v for k, v in r.items() if k != "score"} for r in got] == rows
        scores = np.array([r["score"] for r in got], dtype=np.float32)
    elif out_suffix == "tsv":
        lines = out.read_text(encoding="utf-8").splitlines()
        assert lines[0].split("\t") == ["query_id", "query", "document", "doc_id", "score"]
        fields = [line.split("\t") for line in lines[1:]]
        assert [f[3] for f in fields] == [r["doc_id"] for r in rows]
        scores = np.array([float(f[4]) for f in fields], dtype=np.float32)
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(out)
        assert table.column("doc_id").to_pylist() == [r["doc_id"] for r in rows]
        scores = table.column("score").to_numpy()
    np.testing.assert_array_equal(scores, expected_scores(reranker, rows))
    assert not (tmp_path / f"scored.{out_suffix}.partial").exists()


def test_parquet_and_headerless_tsv_inputs(tmp_path, tiny_bundle, reranker):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = make_rows(300, seed=1)
    source = tmp_path / "pairs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    out = tmp_path / "out.parquet"
    assert main(["score", str(source), "--out", str(out), "--model", str(tiny_bundle), "--quiet"]) == 0
    np.testing.assert_array_equal(pq.read_table(out).column("score").to_numpy(), expected_scores(reranker, rows))
    tsv = tmp_path / "pairs.tsv"  # no header: query, document, then anything
    tsv.write_text("".join(f"{r['query']}\t{r['document']}\t{r['doc_id']}\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.tsv"
    assert main(["score", str(tsv), "--out", str(out), "--model", str(tiny_bundle), "--quiet"]) == 0
    fields = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert [f[2] for f in fields] == [r["doc_id"] for r in rows]  # no header added to a headerless file
    np.testing.assert_array_equal(np.array([float(f[3]) for f in fields], dtype=np.float32),
                                  expected_scores(reranker, rows))


def test_an_interrupted_run_resumes_without_rescoring(tmp_path, reranker):
    rows = make_rows(1000, seed=2)
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows)
    job = ScoreFileJob(source, tmp_path / "scored.jsonl", "jsonl", "jsonl", chunk_rows=300,
                       settings={"bundle": "tiny"})
    calls: list[int] = []
    scorer = in_process_scorer(reranker)

    def dies_in_the_third_chunk(queries, documents, first_row):
        calls.append(first_row)
        if first_row == 600:
            raise KeyboardInterrupt  # what Ctrl-C or a kill leaves: two chunks written, none after
        return scorer(queries, documents, first_row)

    with pytest.raises(KeyboardInterrupt):
        score_file(job, dies_in_the_third_chunk, progress=False)
    assert sorted(p.name for p in job.partial.glob("part-*")) == ["part-000000.jsonl", "part-000001.jsonl"]
    calls.clear()

    def counting(queries, documents, first_row):
        calls.append(first_row)
        return scorer(queries, documents, first_row)

    result = score_file(job, counting, progress=False)
    assert calls == [600, 900] and (result.resumed_rows, result.scored_now, result.rows) == (600, 400, 1000)
    got = read_jsonl(job.out)
    assert [r["doc_id"] for r in got] == [r["doc_id"] for r in rows]
    np.testing.assert_array_equal(np.array([r["score"] for r in got], dtype=np.float32),
                                  expected_scores(reranker, rows))


def test_a_partial_run_with_other_settings_is_not_mixed_in(tmp_path, reranker):
    rows = make_rows(50, seed=3)
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows)
    out = tmp_path / "scored.jsonl"
    first = ScoreFileJob(source, out, "jsonl", "jsonl", chunk_rows=20, settings={"precision": "int8"})
    first.partial.mkdir()
    (first.partial / runner_module.STATE_FILE).write_text(json.dumps(first.state()), encoding="utf-8")
    other = ScoreFileJob(source, out, "jsonl", "jsonl", chunk_rows=20, settings={"precision": "fp32"})
    with pytest.raises(ValueError, match="other settings.*--restart"):
        score_file(other, in_process_scorer(reranker), progress=False)
    assert score_file(other, in_process_scorer(reranker), restart=True, progress=False).rows == 50
    with pytest.raises(FileExistsError, match="exists"):
        score_file(other, in_process_scorer(reranker), progress=False)


@pytest.mark.parametrize("bad, message", [
    (None, r"pairs.jsonl row 41: document is None; every row needs a document string"),
    (17, r"pairs.jsonl row 41: document is int 17"),
])
def test_a_bad_row_is_named(tmp_path, tiny_bundle, bad, message):
    rows = make_rows(60, seed=4)
    rows[41]["document"] = bad
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, rows)
    result = subprocess.run([sys.executable, "-m", "crossrank.cli", "score", str(source), "--out",
                             str(tmp_path / "o.jsonl"), "--model", str(tiny_bundle), "--quiet"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert __import__("re").search(message, result.stderr), result.stderr


def test_missing_column_and_empty_input_errors(tmp_path, reranker):
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, [{"q": "a", "document": "b"}])
    job = ScoreFileJob(source, tmp_path / "o.jsonl", "jsonl", "jsonl")
    with pytest.raises(ValueError, match=r"no column 'query' \(found 'q', 'document'\).*--query-column"):
        score_file(job, in_process_scorer(reranker), progress=False)
    source.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no rows"):
        score_file(ScoreFileJob(source, tmp_path / "o2.jsonl", "jsonl", "jsonl"), in_process_scorer(reranker),
                   progress=False)
    assert len(Chunk(0, {"query": ["a", "b"]})) == 2
