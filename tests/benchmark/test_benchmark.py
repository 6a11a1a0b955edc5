"""The benchmark's arithmetic: useful operations, padding policies, the GEMM ceiling."""

import pytest

from crossrank import benchmark
from crossrank.benchmark import timing
from crossrank.benchmark.engines import padding_share
from crossrank.benchmark.gemm_rate import int8_gemm_gops
from crossrank.bundle import Bundle


def test_encoder_shape_is_read_from_the_graph(tiny_bundle):
    bundle = Bundle.load(tiny_bundle)
    shape = benchmark.encoder_shape(bundle.model_file("fp32"))
    h = shape.hidden
    assert shape.layers == 2 and h == 32
    # Per layer: Q, K, V and output projections (4 h²) and a 4h-wide feed-forward (8 h²).
    intermediate = (shape.linear_params // shape.layers - 4 * h * h) // (2 * h)
    assert shape.linear_params == shape.layers * (4 * h * h + 2 * h * intermediate)
    assert shape.operations([10]) == 2 * shape.linear_params * 10 + 4 * 100 * h * shape.layers


def test_padding_share_follows_the_batching_policy():
    assert padding_share([4, 4, 4], 2) == 0.0
    assert padding_share([2, 4], 2) == pytest.approx(1 - 6 / 8)
    assert padding_share([2, 4, 2, 4], 2) == pytest.approx(1 - 12 / 16)
    assert padding_share([2, 4, 2, 4], 2, order=[0, 2, 1, 3]) == 0.0


def test_length_summary():
    assert benchmark.length_summary(list(range(1, 11))) == {"min": 1, "median": 5.5, "p90": 9, "max": 10}


def test_expand_engines_keeps_order_and_drops_repeats():
    assert benchmark.expand_engines(["crossrank-int8", "crossrank", "ort-naive"]) == [
        "crossrank-int8", "crossrank-fp32", "ort-naive-int8", "ort-naive-fp32"]
    with pytest.raises(ValueError, match="unknown engine"):
        benchmark.expand_engines(["nope"])


def test_int8_gemm_rate_is_positive():
    assert int8_gemm_gops(1, m=64, n=64, k=64, repeats=2) > 0


def test_run_interleaves_engines_and_rotates_their_order(tiny_bundle, monkeypatch):
    # Drift in the machine's speed must hit every engine alike: each repetition runs every engine
    # once, and who goes first rotates.
    calls = []

    def fake(name):
        def load(bundle, threads):
            return (lambda query, docs: calls.append((name, len(docs))), lambda lengths: 0.0)
        return load

    for name in ("ort-naive-int8", "ort-naive-fp32", "crossrank-fp32"):
        monkeypatch.setitem(benchmark.ENGINES, name, fake(name))
    class Probe:  # the GEMM ceiling is measured once per repetition, between the engines' calls
        rates = iter([100.0, 300.0, 200.0, 50.0, 70.0, 60.0])

        def measure(self):
            calls.append(("gemm", 0))
            return next(self.rates)

    monkeypatch.setattr(timing, "_SETTLE_S", 0.0)  # run() reads it from crossrank.benchmark.timing
    rows = benchmark.run(Bundle.load(tiny_bundle), ["ort-naive-int8", "ort-naive-fp32", "crossrank-fp32"],
                         [2, 3], "q", ["a b", "c", "d e f"], repeats=3, gemm=Probe(), log=lambda line: None)
    assert [r.gemm_gops for r in rows] == [200.0] * 3 + [60.0] * 3  # each pool's median rate
    assert all(r.gemm_fraction == pytest.approx(r.useful_gops / r.gemm_gops) for r in rows)
    assert [i for i, (name, _) in enumerate(calls) if name == "gemm"] == [6, 10, 14, 18, 22, 26]
    calls[:] = [c for c in calls if c[0] != "gemm"]
    warmups, timed = calls[:3], calls[3:]
    assert warmups == [("ort-naive-int8", 2), ("ort-naive-fp32", 2), ("crossrank-fp32", 2)]
    names = [name for name, _ in timed]
    assert names[:9] == ["ort-naive-int8", "ort-naive-fp32", "crossrank-fp32",
                         "ort-naive-fp32", "crossrank-fp32", "ort-naive-int8",
                         "crossrank-fp32", "ort-naive-int8", "ort-naive-fp32"]
    assert [size for _, size in timed] == [2] * 9 + [3] * 9
    assert [(r.engine, r.pool) for r in rows] == [(e, p) for p in (2, 3)
                                                  for e in ("ort-naive-int8", "ort-naive-fp32", "crossrank-fp32")]
    assert all(r.padding_fraction == 0.0 and r.min_s <= r.median_s <= r.max_s for r in rows)
