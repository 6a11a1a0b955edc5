"""The crossrank command line."""

import json

from crossrank import cli


def test_bench_prints_a_row_per_engine_and_pool_and_writes_json(tiny_bundle, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = cli.main(["bench", "--model", str(tiny_bundle), "--pools", "3,7", "--repeats", "1",
                     "--engines", "crossrank-int8,ort-naive-fp32", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.count("crossrank-int8") == 2 and printed.count("ort-naive-fp32") == 2
    rows = json.loads(out.read_text())["results"]
    assert [(r["engine"], r["pool"]) for r in rows] == [
        ("crossrank-int8", 3), ("crossrank-int8", 7), ("ort-naive-fp32", 3), ("ort-naive-fp32", 7)]
    assert all(r["min_s"] <= r["median_s"] <= r["max_s"] and r["pairs_per_s"] > 0 for r in rows)


def test_bench_rejects_unknown_engines_and_bad_pools(tiny_bundle, capsys):
    assert cli.main(["bench", "--model", str(tiny_bundle), "--engines", "nope"]) == 2
    assert "unknown engine" in capsys.readouterr().err
    try:
        cli.main(["bench", "--pools", "0"])
    except SystemExit as exit:
        assert exit.code == 2
    assert "pool sizes must be positive" in capsys.readouterr().err


def test_missing_bundle_is_a_clean_error(tmp_path, capsys):
    assert cli.main(["bench", "--model", str(tmp_path / "none")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err
