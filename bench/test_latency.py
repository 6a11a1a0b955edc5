"""Latency per pool size, crossrank against the plain onnxruntime loop and the optional peers
(sentence-transformers, FlashRank, FastEmbed; skipped when not installed), with pytest-benchmark.

    pytest bench/test_latency.py --benchmark-columns=median,min,max --benchmark-sort=name

Uses the embedded default model (untrained seeded head: speed only, no relevance) and realistic
MS MARCO-like passages from crossrank.workloads. `crossrank bench` prints the same comparison
as a table; this suite keeps the numbers comparable across commits (--benchmark-autosave).
"""

import pytest

from crossrank import benchmark, workloads
from crossrank._system import physical_core_count
from crossrank.benchmark import peers

POOLS = [10, 50, 100, 200]
ENGINES = list(benchmark.ENGINES)  # the optional peers skip when they cannot load


@pytest.fixture(scope="module")
def passages():
    return workloads.passages(max(POOLS))


@pytest.fixture(scope="module", params=ENGINES)
def engine(request, default_bundle):
    try:
        score, _padding = benchmark.ENGINES[request.param](default_bundle, physical_core_count())
    except Exception as error:  # noqa: BLE001 - optional peers: missing package or unloadable model
        if request.param not in peers.PEERS:
            raise
        pytest.skip(f"{request.param} cannot run here: {type(error).__name__}: {error}")
    return score


@pytest.mark.parametrize("pool", POOLS)
def test_pool_latency(benchmark, engine, passages, pool):
    query = workloads.query()
    docs = passages[:pool]
    engine(query, docs)  # warm-up
    benchmark.extra_info["pairs"] = pool
    benchmark.pedantic(engine, args=(query, docs), rounds=3, iterations=1)
