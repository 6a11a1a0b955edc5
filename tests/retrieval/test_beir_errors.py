"""Malformed BEIR data: read_beir and ``crossrank eval`` name the file and the line, in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossrank import cli
from crossrank.beir import read_beir


@pytest.fixture()
def beir(tmp_path) -> Path:
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": "", "text": f"document {i}"}) + "\n" for i in ("10", "11")),
        encoding="utf-8")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "1", "text": "document"}) + "\n\n", encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t10\t1\n", encoding="utf-8")
    return folder


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


@pytest.mark.parametrize("file, line, message", [
    ("corpus.jsonl", '{"title": "t", "text": "no id"}\n', r"corpus.jsonl:3: the row needs an '_id'"),
    ("corpus.jsonl", '{"_id": "12", "text": ["not", "text"]}\n', r"corpus.jsonl:3: 'text' must be a string"),
    ("corpus.jsonl", '{"_id": "12", "title": 5, "text": "x"}\n', r"corpus.jsonl:3: 'title' must be a string"),
    ("corpus.jsonl", '["a list"]\n', r"corpus.jsonl:3: expected a JSON object"),
    ("queries.jsonl", '{"_id": "2", "text": "unterminated\n', r"queries.jsonl:3: not valid JSON"),
    ("queries.jsonl", '{"_id": "2"}\n', r"queries.jsonl:3: 'text' must be a string"),
    ("qrels/test.tsv", "1\t11\thigh\n", r"test.tsv:3: the grade must be an integer, got 'high'"),
    ("qrels/test.tsv", "1\t11\t1.5\n", r"test.tsv:3: the grade must be an integer"),
    ("qrels/test.tsv", "1 11 1\n", r"test.tsv:3: expected query-id, corpus-id and score separated by tabs"),
])
def test_malformed_rows_name_file_and_line(beir, file, line, message):
    _append(beir / file, line)
    with pytest.raises(ValueError, match=message):
        read_beir(beir)


def test_non_utf8_file_is_named(beir):
    _append(beir / "corpus.jsonl", "")
    with open(beir / "corpus.jsonl", "ab") as f:
        f.write(b'{"_id": "12", "text": "caf\xe9"}\n')
    with pytest.raises(ValueError, match=r"corpus.jsonl: not UTF-8 text"):
        read_beir(beir)


def test_well_formed_data_still_reads(beir):
    corpus, queries, qrels = read_beir(beir)
    assert corpus == {"10": "document 10", "11": "document 11"} and queries == {"1": "document"}
    assert qrels == {"1": {"10": 1}}


def test_eval_prints_one_line_with_file_and_line(beir, capsys):
    _append(beir / "qrels" / "test.tsv", "1\t11\tnope\n")
    assert cli.main(["eval", str(beir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crossrank eval: error: ") and f"{beir / 'qrels' / 'test.tsv'}:3" in err
    assert err.count("\n") == 1 and "Traceback" not in err
