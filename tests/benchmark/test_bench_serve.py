"""``crossrank bench-serve`` against a real ``crossrank serve`` of the tiny bundle, with tiny settings: the
report's structure and counts, every answer checked against ``Reranker.score_pairs``, a wrong expectation
caught as a mismatch, ``--url`` in TEI's shape, a missing Infinity reported rather than fatal. No timings
are asserted (the machine is shared)."""

from __future__ import annotations

import json

import pytest

for _name in ("fastapi", "uvicorn", "prometheus_client", "httpx", "pydantic"):
    pytest.importorskip(_name)

from crossrank import cli  # noqa: E402
from crossrank.benchmark import serve_bench  # noqa: E402
from crossrank.benchmark.load import TEI, Body, Target, answer_scores, closed_loop, encode_body  # noqa: E402
from crossrank.benchmark.serve_bench import ServeBenchSettings, run_bench_serve  # noqa: E402
from crossrank.benchmark.serve_report import format_report, plot_report, save_json, targets  # noqa: E402
from crossrank.benchmark.servers import start_crossrank  # noqa: E402
from crossrank.bundle import Bundle  # noqa: E402
from crossrank.reranker import Reranker  # noqa: E402

REQUESTS, POOL = 5, 2


def _settings(bundle, **overrides) -> ServeBenchSettings:
    values = dict(bundle=bundle, servers=["crossrank"], concurrency=[1, 2], pools=[POOL], requests=REQUESTS,
                  seconds=60.0, warmup=1, mixed=2, mixed_requests=3, inprocess_seconds=0.2, threads=2, variants=2,
                  log=lambda *_: None)
    return ServeBenchSettings(**{**values, **overrides})


@pytest.fixture(scope="module")
def report(tiny_bundle):
    return run_bench_serve(_settings(tiny_bundle))


@pytest.fixture(scope="module")
def server(tiny_bundle):
    process, target = start_crossrank(tiny_bundle, threads=2)
    try:
        yield process.wait_ready(), target
    finally:
        process.stop()


def test_every_run_is_counted_and_every_answer_checked(report):
    [server] = report["servers"]
    assert server["name"] == "crossrank" and server["exit_status"] == 0
    assert [(r["concurrency"], r["pool"]) for r in server["runs"]] == [(1, POOL), (2, POOL)]
    for run in server["runs"]:
        assert run["requests"] == REQUESTS and run["errors"] == 0 and run["error_kinds"] == {}
        assert run["checked"] == REQUESTS and run["max_abs_diff"] <= 1e-5
        assert run["pairs_per_s"] > 0 and run["p50_ms"] <= run["p95_ms"] <= run["p99_ms"]
        assert 0 <= run["client_cpu_share"]


def test_mixed_run_and_inprocess_throughput_are_reported(report):
    mixed = report["servers"][0]["mixed"]
    assert mixed["alone"]["requests"] == 3 and mixed["loaded"]["requests"] == 3
    assert mixed["alone"]["pool"] == 10 and mixed["background"]["pool"] == 100
    assert mixed["background"]["errors"] == 0 and mixed["background"]["requests"] >= 1
    assert mixed["loaded"]["checked"] == 3 and mixed["p99_ratio"] > 0
    assert report["inprocess"]["pool"] == POOL and report["inprocess"]["pairs_per_s"] > 0


def test_report_text_json_and_targets(report, tmp_path):
    t = targets(report)
    assert t["pairs_per_s_vs_infinity"] is None  # no Infinity in this run
    assert t["share_of_inprocess"] > 0 and t["mixed_p99_ratio"] == report["servers"][0]["mixed"]["p99_ratio"]
    text = format_report(report)
    assert "| 2 | 2 | 5 | 0 |" in text and "targets:" in text
    save_json(report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["targets"] == t


def test_wrong_expected_scores_are_counted_as_mismatches(server, tiny_bundle):
    _, target = server
    docs = ["a short passage about rivers", "bananas are yellow"]
    right = Reranker(tiny_bundle, threads=2).score_pairs([("rivers", d) for d in docs])
    check = Target(target.name, target.url, target.kind, tolerance=1e-5)
    good = closed_loop(check, [Body(encode_body(target.kind, "rivers", docs), right)], 2, requests=4, seconds=60)
    bad = closed_loop(check, [Body(encode_body(target.kind, "rivers", docs), right + 0.01)], 2, requests=4, seconds=60)
    assert good.errors == {} and good.checked == 4
    assert bad.errors == {"mismatch": 4} and bad.checked == 4 and bad.latencies_ms == []


def test_url_mode_in_tei_shape(server, tiny_bundle):
    process, _ = server
    report = run_bench_serve(_settings(tiny_bundle, servers=[], url=process.url + "/", kind=TEI, concurrency=[2],
                                       mixed=0, inprocess_seconds=0))
    [run] = report["servers"][0]["runs"]
    assert report["servers"][0]["kind"] == TEI and report["inprocess"] is None
    assert run["requests"] == REQUESTS and run["errors"] == 0 and run["checked"] == REQUESTS


def test_missing_infinity_is_reported_not_fatal(tiny_bundle, monkeypatch):
    monkeypatch.setattr(serve_bench, "start_infinity", lambda bundle: (_ for _ in ()).throw(
        serve_bench.PeerUnavailable("infinity-emb is not installed")))
    result = serve_bench._run_started("infinity", Bundle.load(tiny_bundle), {}, {}, _settings(tiny_bundle))
    assert result == {"name": "infinity", "unavailable": "infinity-emb is not installed"}


def test_answer_scores_refuses_a_partial_ranking():
    assert answer_scores(TEI, [{"index": 1, "score": 0.5}, {"index": 0, "score": 0.25}], 2).tolist() == [0.25, 0.5]
    with pytest.raises(ValueError, match="permutation"):
        answer_scores("cohere", {"results": [{"index": 1, "relevance_score": 0.5}] * 2}, 2)
    with pytest.raises(ValueError, match="expected 2 results"):
        answer_scores("cohere", {"results": []}, 2)


@pytest.mark.parametrize("argv, message", [
    (["--servers", "tgi"], "unknown server 'tgi'"),
    (["--concurrency", "1,0"], "concurrency levels must be positive"),
    (["--kind", "jina"], "invalid choice"),
])
def test_bad_arguments_fail_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["bench-serve", *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_plot_is_drawn_or_refused_before_the_run(report, tmp_path, monkeypatch):
    out = tmp_path / "serve.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        monkeypatch.setattr(serve_bench, "run_bench_serve", lambda settings: pytest.fail("the run started"))
        with pytest.raises(ImportError, match="--plot needs matplotlib"):
            serve_bench.bench_serve(ServeBenchSettings(plot=out, log=lambda *_: None))
        return
    plot_report(report, out)
    assert out.stat().st_size > 1000


def test_serve_args_reach_the_server_and_refusals_count_as_errors(tiny_bundle):
    report = run_bench_serve(_settings(tiny_bundle, serve_args=["--max-documents", "1"], concurrency=[2], warmup=0,
                                       mixed=0, inprocess_seconds=0))
    [run] = report["servers"][0]["runs"]
    assert run["error_kinds"] == {"http 413": REQUESTS} and run["requests"] == 0 and run["p99_ms"] is None
    assert "| 2 | 2 | 0 | 5 | 0.0 | None |" in format_report(report)


def test_precision_reaches_the_server_and_the_reference(tiny_bundle):
    """A rung other than the bundle's default (the tiny bundle's gate picks it per machine): every
    answer must match that rung's score_pairs within 1e-5, which the default rung's would not."""
    default = Reranker(tiny_bundle)
    other = "fp32" if default.precision == "int8" else "int8"  # the furthest apart (bf16 and fp32 agree to ~1e-6 here)
    pairs = [("what is a cross-encoder", "a model that reads query and document together"), ("q", "an answer")]
    gap = max(abs(a - b) for a, b in zip(default.score_pairs(pairs),
                                         Reranker(tiny_bundle, precision=other).score_pairs(pairs)))
    assert gap > 1e-5  # so a server left on the default rung would fail the check below
    report = run_bench_serve(_settings(tiny_bundle, precision=other, concurrency=[2], mixed=0, inprocess_seconds=0))
    [run] = report["servers"][0]["runs"]
    assert report["precision"] == other and f"precision {other}" in format_report(report)
    assert run["errors"] == 0 and run["checked"] == REQUESTS and run["max_abs_diff"] <= 1e-5
