"""Latency per pool size, crossrank against the plain onnxruntime loop, with pytest-benchmark.

    pytest bench/test_latency.py --benchmark-columns=median,min,max --benchmark-sort=name

Uses the embedded default model (untrained seeded head: speed only, no relevance) and realistic
MS MARCO-like passages from crossrank.workloads. `crossrank bench` prints the same comparison
as a table; this suite keeps the numbers comparable across commits (--benchmark-autosave).
"""

import pytest

from crossrank import benchmark, workloads

POOLS = [10, 50, 100, 200]
ENGINES = ["crossrank-int8", "crossrank-fp32", "ort-naive-int8", "ort-naive-fp32"]


@pytest.fixture(scope="module")
def passages():
    return workloads.passages(max(POOLS))


@pytest.fixture(scope="module", params=ENGINES)
def engine(request, default_bundle):
    score, _padding = benchmark.ENGINES[request.param](default_bundle, None)
    return score


@pytest.mark.parametrize("pool", POOLS)
def test_pool_latency(benchmark, engine, passages, pool):
    query = workloads.query()
    docs = passages[:pool]
    engine(query, docs)  # warm-up
    benchmark.extra_info["pairs"] = pool
    benchmark.pedantic(engine, args=(query, docs), rounds=3, iterations=1)
