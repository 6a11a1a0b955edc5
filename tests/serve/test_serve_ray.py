"""``crossrank serve --ray-replicas 2``: the app as Ray Serve replicas behind Ray's proxy, a real process on
127.0.0.1 answering the real clients with the scores score_pairs gives, and exiting 0 on SIGTERM."""

from __future__ import annotations

import concurrent.futures

import pytest

from crossrank.reranker import Reranker
from serve_helpers import QUERY, Server, documents, need_server_deps, offline_scores

need_server_deps()
pytest.importorskip("ray.serve")
cohere = pytest.importorskip("cohere")
httpx = pytest.importorskip("httpx")

RAY_START_TIMEOUT_S = 240.0  # a local Ray cluster, its Serve controller and proxy, two replicas loading


def test_two_ray_serve_replicas_answer_like_the_library(tiny_bundle):
    server = Server(tiny_bundle, "--ray-replicas", "2", "--threads", "1")
    try:
        server.wait_ready(RAY_START_TIMEOUT_S)
        docs = documents(12, 20)
        reranker = Reranker(tiny_bundle, threads=2)
        expected = offline_scores(reranker, QUERY, docs)
        tails = {start: offline_scores(reranker, QUERY, docs[start:]) for start in range(12)}
        co = cohere.ClientV2(api_key="unused", base_url=server.url)
        answer = co.rerank(model="crossrank", query=QUERY, documents=docs)
        assert {r.index: r.relevance_score for r in answer.results} == pytest.approx(
            dict(enumerate(map(float, expected))), abs=1e-6)

        def tei(i: int) -> list[dict]:
            body = {"query": QUERY, "texts": docs[i % 12:]}
            return httpx.post(f"{server.url}/rerank", json=body, timeout=60).json()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # spread over both replicas
            answers = list(pool.map(tei, range(24)))
        for i, got in enumerate(answers):
            want = dict(enumerate(map(float, tails[i % 12])))
            assert {a["index"]: a["score"] for a in got} == pytest.approx(want, abs=1e-6)
        r = httpx.post(f"{server.url}/v2/rerank", json={"query": QUERY, "documents": []})
        assert r.status_code == 422 and "documents" in r.text  # the app's own validation, through Ray's proxy
    finally:
        output = server.stop()
    assert server.process.returncode == 0, output
