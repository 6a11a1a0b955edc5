"""The crossrank command line: ``crossrank bench``."""

import json
from pathlib import Path

import pytest

from crossrank import benchmark, cli


def _rows(printed: str, engine: str) -> list[str]:
    """The per-pool progress lines an engine printed (the table repeats them, prefixed by name)."""
    return [line for line in printed.splitlines() if line.strip().startswith(f"{engine}  pool")]


def test_bench_prints_a_row_per_engine_and_pool_and_writes_json(tiny_bundle, tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = cli.main(["bench", "--model", str(tiny_bundle), "--pools", "3,7", "--repeats", "1",
                     "--engines", "crossrank-int8,ort-naive-fp32", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert len(_rows(printed, "crossrank-int8")) == 2 and len(_rows(printed, "ort-naive-fp32")) == 2
    assert "int8 GEMM rate" in printed and "tokens per pair min" in printed
    data = json.loads(out.read_text())
    rows = data["results"]
    assert [(r["engine"], r["pool"]) for r in rows] == [
        ("crossrank-int8", 3), ("ort-naive-fp32", 3), ("crossrank-int8", 7), ("ort-naive-fp32", 7)]
    assert all(r["min_s"] <= r["median_s"] <= r["max_s"] and r["pairs_per_s"] > 0 for r in rows)
    assert all(r["tokens_per_s"] > 0 and r["useful_gops"] > 0 and 0 < r["gemm_fraction"] < 1
               and 0 <= r["padding_fraction"] < 1 for r in rows)
    # Memory: what loading kept resident, and the peak one call added (Linux /proc; ~0 for a tiny model).
    assert all(r["model_mb"] is not None and r["scoring_mb"] >= -1 for r in rows)
    meta = data["meta"]
    assert meta["int8_gemm_gops"] > 0 and meta["machine"]["threads"] >= 1
    assert meta["pair_tokens"]["min"] <= meta["pair_tokens"]["median"] <= meta["pair_tokens"]["max"]
    assert data["speedups"][0]["fastest_peer"] == "ort-naive-fp32"


def test_bench_compare_takes_groups_and_draws_the_plot(tiny_bundle, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "bench.png"
    code = cli.main(["bench", "--model", str(tiny_bundle), "--pools", "2", "--repeats", "1",
                     "--compare", "ort-naive", "--plot", str(plot)])
    assert code == 0
    printed = capsys.readouterr().out
    assert len(_rows(printed, "ort-naive-int8")) == 1 and len(_rows(printed, "ort-naive-fp32")) == 1
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_skips_a_peer_that_cannot_load_and_says_why(tiny_bundle, monkeypatch, capsys):
    def missing(bundle, threads):
        raise ImportError("No module named 'flashrank'")

    def broken(bundle, threads):
        raise OSError("no model file")

    monkeypatch.setitem(benchmark.ENGINES, "flashrank", missing)
    monkeypatch.setitem(benchmark.ENGINES, "fastembed", broken)
    code = cli.main(["bench", "--model", str(tiny_bundle), "--pools", "2", "--repeats", "1",
                     "--compare", "flashrank,fastembed,crossrank-int8"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "flashrank: skipped, a package is missing (No module named 'flashrank')" in printed
    assert "fastembed: skipped, cannot load the model (OSError: no model file)" in printed
    assert len(_rows(printed, "crossrank-int8")) == 1


def test_bench_skips_a_rung_the_cpu_lacks_and_times_the_kernel_rungs(tiny_bundle, monkeypatch, capsys):
    from crossrank import _native

    monkeypatch.setattr(_native, "BF16_KERNELS", False)
    code = cli.main(["bench", "--model", str(tiny_bundle), "--pools", "2", "--repeats", "1",
                     "--compare", "crossrank-bf16,crossrank-int8-token,crossrank-int8"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "crossrank-bf16: skipped, bf16 needs AVX512-BF16" in printed and not _rows(printed, "crossrank-bf16")
    assert len(_rows(printed, "crossrank-int8-token")) == (1 if _native.INT8_TOKEN_KERNELS else 0)
    assert len(_rows(printed, "crossrank-int8")) == 1


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


TREC_DL = Path(__file__).resolve().parents[3] / "shared" / "data" / "trec-dl-2020"


def test_bench_on_trec_dl_pools(tiny_bundle, tmp_path, capsys):
    if not TREC_DL.is_dir():
        pytest.skip("TREC DL 2020 data is not here")
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--model", str(tiny_bundle), "--profile", "trec-dl", "--data", str(TREC_DL),
                     "--pools", "5", "--repeats", "1", "--compare", "crossrank-int8", "--json", str(out)]) == 0
    assert "workload: trec-dl" in capsys.readouterr().out
    assert json.loads(out.read_text())["results"][0]["pool"] == 5


def test_trec_dl_workload_needs_its_folder(capsys):
    assert cli.main(["bench", "--profile", "trec-dl", "--pools", "5"]) == 2  # before any model loads
    assert "needs the TREC DL 2020 folder" in capsys.readouterr().err
