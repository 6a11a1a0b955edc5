"""Every command-line error is one line naming the argument, exit status 2, before any long work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crossrank import cli
from crossrank.benchmark import command
from crossrank.bundle import MANIFEST_FILE, VERIFY_ENV


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *names: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err and "usage:" not in err, err
    for name in names:
        assert name in err, err


@pytest.mark.parametrize("argv, name", [
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--threads", "-1"], "--threads"),
    (["bench", "--threads", "0"], "--threads"),
    (["bench", "--threads", "2.5"], "--threads"),
    (["bench", "--pools", "10,,20"], "--pools"),
    (["bench", "--pools", "10,x"], "--pools"),
    (["bench", "--pools", ""], "--pools"),
    (["bench", "--profile", "nope"], "--profile"),
    (["export", "m", "--out", "o", "--min-top10-overlap", "nan"], "--min-top10-overlap"),
    (["export", "m", "--out", "o", "--min-top10-overlap", "1.5"], "--min-top10-overlap"),
    (["export", "m", "--out", "o", "--max-ndcg-drop", "-1"], "--max-ndcg-drop"),
    (["export", "m", "--out", "o", "--max-ndcg-drop", "inf"], "--max-ndcg-drop"),
    (["export", "m", "--out", "o", "--gate-budget", "-5"], "--gate-budget"),
    (["export", "m", "--out", "o", "--max-fp32-share", "2"], "--max-fp32-share"),
    (["export", "m", "--out", "o", "--max-fp32-share", "-0.1"], "--max-fp32-share"),
    (["export", "m", "--out", "o", "--eval-queries", "-1"], "--eval-queries"),
    (["export", "m", "--out", "o", "--eval-depth", "0"], "--eval-depth"),
    (["export", "m", "--out", "o", "--max-length", "4"], "--max-length"),
    (["export", "m", "--out", "o", "--opset", "0"], "--opset"),
    (["eval", "data", "--pool", "0"], "--pool"),
    (["eval", "data", "--threads", "-2"], "--threads"),
])
def test_bad_values_are_one_line_naming_the_argument(argv, name, capsys):
    code, _, err = run(argv, capsys)
    assert_one_line_error(code, err, name, f"crossrank {argv[0]}: error: argument {name}")


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_bench_output_into_a_missing_folder_is_refused_before_the_run(option, tmp_path, capsys):
    code, out, err = run(["bench", option, str(tmp_path / "missing" / "out.file")], capsys)
    assert_one_line_error(code, err, option, "does not exist")
    assert out == ""


def test_eval_output_into_a_missing_folder_is_refused(tmp_path, capsys):
    code, _, err = run(["eval", str(tmp_path), "--json", str(tmp_path / "missing" / "r.json")], capsys)
    assert_one_line_error(code, err, "--json")


def test_eval_checks_the_bundle_before_stage_one(tmp_path, capsys):
    code, _, err = run(["eval", str(tmp_path), "--model", str(tmp_path / "nowhere")], capsys)
    assert_one_line_error(code, err, "bundle folder not found")


def _broken_tokenizer_bundle(tiny_bundle, tmp_path) -> Path:
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    config = json.loads((bundle / "tokenizer.json").read_text(encoding="utf-8"))
    config["model"]["max_input_chars_per_word"] = -1
    (bundle / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    return bundle


@pytest.mark.parametrize("verify, message", [("1", "is corrupt"), ("0", "model.max_input_chars_per_word")])
def test_bench_on_a_malformed_tokenizer_fails_before_the_gemm_probe(tiny_bundle, tmp_path, capsys, monkeypatch,
                                                                     verify, message):
    def no_probe(*args, **kwargs):
        raise AssertionError("the GEMM probe ran")

    monkeypatch.setattr(command, "Int8GemmProbe", no_probe)
    monkeypatch.setenv(VERIFY_ENV, verify)
    bundle = _broken_tokenizer_bundle(tiny_bundle, tmp_path)
    code, out, err = run(["bench", "--model", str(bundle), "--pools", "2", "--repeats", "1"], capsys)
    assert_one_line_error(code, err, str(bundle / "tokenizer.json"), message)
    assert "GEMM" not in out


def test_bench_on_a_tokenizer_past_the_vocabulary_fails_early(tiny_bundle, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(command, "Int8GemmProbe", None)
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    manifest = json.loads((bundle / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["vocab_rows"] = 1000
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    code, _, err = run(["bench", "--model", str(bundle), "--pools", "2", "--repeats", "1"], capsys)
    assert_one_line_error(code, err, "token id 30521", "1000 rows")


def test_bench_on_a_corrupt_graph_fails_before_the_gemm_probe(tiny_bundle, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(command, "Int8GemmProbe", None)
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    with open(bundle / "model.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\xff" * 16)
    code, _, err = run(["bench", "--model", str(bundle), "--pools", "2", "--repeats", "1",
                        "--compare", "ort-naive-fp32"], capsys)
    assert_one_line_error(code, err, str(bundle / "model.onnx"), "is corrupt")


def test_a_malformed_or_unreadable_trec_run_is_one_line(tmp_path, capsys):
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "text": "a document"}) + "\n")
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "a query"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    run_file = tmp_path / "run.trec"
    run_file.write_text("q1 Q0 d1 1\n")  # too few columns
    code, _, err = run(["eval", str(beir), "--trec-run", str(run_file)], capsys)
    assert_one_line_error(code, err, str(run_file), ":1")
    code, _, err = run(["eval", str(beir), "--trec-run", str(tmp_path)], capsys)  # a folder, not a file
    assert_one_line_error(code, err, str(tmp_path))
