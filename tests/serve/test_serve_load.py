"""The real server under load: 32 clients at once get exactly the offline scores; a tiny queue bound gives
429s with Retry-After and mixes up no result; SIGTERM drains (in-flight requests finish, new ones are
refused, exit 0)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from crossrank.reranker import Reranker
from serve_helpers import Server, documents, need_server_deps, offline_scores, running_server

need_server_deps()
httpx = pytest.importorskip("httpx")

CLIENTS = 32
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def reranker(tiny_bundle):
    return Reranker(tiny_bundle, threads=2)


def workload(count: int) -> list[tuple[str, list[str]]]:
    """Small and large requests mixed: 1-10 short documents or 60-100 longer ones, each its own query."""
    requests = []
    for i in range(count):
        size, words = (1 + i % 10, 8) if i % 2 else (60 + i % 41, 60)
        requests.append((f"query number {i} about encoders", documents(size, words, seed=i)))
    return requests


def rerank(url: str, query: str, docs: list[str]) -> httpx.Response:
    return httpx.post(f"{url}/v2/rerank", json={"model": "crossrank", "query": query, "documents": docs},
                      timeout=TIMEOUT_S)


def assert_equal_to_offline(response: httpx.Response, reranker, query: str, docs: list[str]) -> None:
    expected = offline_scores(reranker, query, docs)
    got = {r["index"]: r["relevance_score"] for r in response.json()["results"]}
    assert sorted(got) == list(range(len(docs)))
    np.testing.assert_allclose([got[i] for i in range(len(docs))], expected, rtol=0, atol=1e-6)


def metric(url: str, name: str) -> float:
    return float(re.search(rf"^{name} (\S+)$", httpx.get(f"{url}/metrics").text, re.M).group(1))


def queue_tokens(url: str) -> float:
    return metric(url, "crossrank_queue_tokens")


@pytest.fixture(scope="module")
def server(tiny_bundle):
    with running_server(tiny_bundle, "--max-documents", "2000") as s:
        yield s


def test_32_clients_at_once_get_exactly_the_offline_scores(server, reranker):
    requests = workload(CLIENTS)
    with ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(lambda r: rerank(server.url, *r), requests))
    assert queue_tokens(server.url) == 0
    for response, (query, docs) in zip(responses, requests):
        assert response.status_code == 200, response.text
        assert_equal_to_offline(response, reranker, query, docs)


def test_a_client_that_disconnects_has_its_pairs_dropped(server):
    # seconds of work: 1900 pairs of 512 tokens (under the 1M-token queue bound), 119 micro-batches
    docs = documents(1900, 500)
    body = json.dumps({"query": "q", "documents": docs}).encode()
    batches = metric(server.url, "crossrank_batch_seconds_count")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as client:
        client.sendall(b"POST /v2/rerank HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body)
        deadline = time.monotonic() + TIMEOUT_S
        while queue_tokens(server.url) == 0 and time.monotonic() < deadline:  # queued and running
            time.sleep(0.01)
    deadline = time.monotonic() + TIMEOUT_S
    while queue_tokens(server.url) > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    ran = metric(server.url, "crossrank_batch_seconds_count") - batches
    assert ran < 100, f"{ran} of 119 micro-batches ran: the pairs were not dropped"
    while "status=\"499\"" not in httpx.get(f"{server.url}/metrics").text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 'crossrank_requests_total{route="/v2/rerank",status="499"} 1.0' in httpx.get(f"{server.url}/metrics").text


def test_overload_gets_429_with_retry_after_and_mixes_up_no_result(tiny_bundle, reranker):
    # each request: 8 pairs of ~470 tokens (~3,800); the bound lets two wait at once
    requests = [(f"query {i}", documents(8, 450, seed=i)) for i in range(CLIENTS)]
    with running_server(tiny_bundle, "--max-queue-tokens", "8000") as server, ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(lambda r: rerank(server.url, *r), requests))
        assert queue_tokens(server.url) == 0
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429} and statuses.count(429) > 0 and statuses.count(200) > 0, statuses
    for response, (query, docs) in zip(responses, requests):
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
            assert "queue" in response.json()["message"]
        else:
            assert_equal_to_offline(response, reranker, query, docs)


def test_sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_0(tiny_bundle, reranker):
    server = Server(tiny_bundle, "--max-documents", "2000").wait_ready()
    query, docs = "a long request", documents(2000, 300)
    try:
        result: dict[str, httpx.Response] = {}
        thread = threading.Thread(target=lambda: result.setdefault("r", rerank(server.url, query, docs)))
        thread.start()
        deadline = time.monotonic() + TIMEOUT_S
        while queue_tokens(server.url) == 0 and time.monotonic() < deadline:  # wait until it is queued
            time.sleep(0.01)
        server.terminate()
        assert thread.is_alive(), "the request finished before SIGTERM: make it longer"
        time.sleep(0.2)
        try:
            late = rerank(server.url, "late", ["x"])
            assert late.status_code == 503, late.text
        except httpx.TransportError:
            pass  # refused: the listening socket is already closed
        thread.join(TIMEOUT_S)
        assert server.process.wait(TIMEOUT_S) == 0
    finally:
        output = server.stop()
    assert result["r"].status_code == 200, output
    assert_equal_to_offline(result["r"], reranker, query, docs)
