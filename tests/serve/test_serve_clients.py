"""The real server process answering the real clients: the cohere SDK (v1 and v2), Jina's and TEI's shapes
over plain HTTP; /health, /info, /metrics, /docs; scores equal to Reranker.score_pairs."""

from __future__ import annotations

import numpy as np
import pytest

from crossrank.reranker import Reranker
from serve_helpers import QUERY, documents, need_server_deps, offline_scores, running_server

need_server_deps()
cohere = pytest.importorskip("cohere")
httpx = pytest.importorskip("httpx")

KEY = "test-key"
DOCS = documents(12, 20)


@pytest.fixture(scope="module")
def server(tiny_bundle):
    with running_server(tiny_bundle, "--api-key", KEY) as s:
        yield s


@pytest.fixture(scope="module")
def reranker(tiny_bundle):
    return Reranker(tiny_bundle, threads=2)


@pytest.fixture(scope="module")
def expected(reranker):
    return offline_scores(reranker, QUERY, DOCS)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"}


def check_ranked(results, expected, top_n):
    """RESULTS are best first, top_n long, and each score equals the offline score of its index."""
    assert len(results) == top_n
    scores = [r.relevance_score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert [r.index for r in results] == np.argsort(-expected, kind="stable")[:top_n].tolist()
    for r in results:
        assert r.relevance_score == pytest.approx(float(expected[r.index]), abs=1e-6)


def test_cohere_client_v2(server, expected):
    co = cohere.ClientV2(api_key=KEY, base_url=server.url)
    response = co.rerank(model="crossrank", query=QUERY, documents=DOCS, top_n=5)
    check_ranked(response.results, expected, 5)
    assert response.meta.api_version.version == "2"
    assert response.meta.billed_units.search_units == 1


def test_cohere_client_v1_with_documents(server, expected):
    co = cohere.Client(api_key=KEY, base_url=server.url)
    response = co.rerank(model="crossrank", query=QUERY, documents=DOCS, top_n=3, return_documents=True)
    check_ranked(response.results, expected, 3)
    assert [r.document.text for r in response.results] == [DOCS[r.index] for r in response.results]
    assert response.meta.api_version.version == "1"


def test_cohere_client_with_the_wrong_key_gets_unauthorized(server):
    co = cohere.ClientV2(api_key="wrong", base_url=server.url)
    with pytest.raises(cohere.UnauthorizedError):
        co.rerank(model="crossrank", query=QUERY, documents=DOCS[:2])


def test_jina_shape(server, expected):
    body = {"model": "jina-reranker-v2-base-multilingual", "query": QUERY, "top_n": 4,
            "documents": [{"text": d} for d in DOCS], "return_documents": True}
    r = httpx.post(f"{server.url}/v1/rerank", json=body, headers=auth())
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["model"] == "crossrank" and data["usage"]["total_tokens"] > 0
    assert len(data["results"]) == 4
    for result in data["results"]:
        assert result["document"]["text"] == DOCS[result["index"]]
        assert result["relevance_score"] == pytest.approx(float(expected[result["index"]]), abs=1e-6)
    for header in ("x-queue-time", "x-tokenization-time", "x-inference-time", "x-total-time"):
        assert int(r.headers[header]) >= 0


def test_tei_shape_scores_and_raw_scores(server, reranker, expected):
    r = httpx.post(f"{server.url}/rerank", json={"query": QUERY, "texts": DOCS, "return_text": True}, headers=auth())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [a["index"] for a in answer] == np.argsort(-expected, kind="stable").tolist()
    assert all(a["text"] == DOCS[a["index"]] for a in answer)
    assert all(a["score"] == pytest.approx(float(expected[a["index"]]), abs=1e-6) for a in answer)
    raw = httpx.post(f"{server.url}/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True},
                     headers=auth()).json()
    logits = np.log(expected / (1 - expected))  # the tiny bundle's activation is a sigmoid
    assert all(a["score"] == pytest.approx(float(logits[a["index"]]), abs=1e-4) for a in raw)
    assert "text" not in raw[0]


def test_tei_truncate_false_answers_413_as_tei_and_true_truncates(server, reranker):
    long_doc = documents(1, 700)[0]
    r = httpx.post(f"{server.url}/rerank", json={"query": QUERY, "texts": ["short", long_doc]}, headers=auth())
    assert r.status_code == 413
    assert r.json()["error_type"] == "Validation" and "texts[1]" in r.json()["error"]
    r = httpx.post(f"{server.url}/rerank", json={"query": QUERY, "texts": ["short", long_doc], "truncate": True},
                   headers=auth())
    assert r.status_code == 200
    expected = offline_scores(reranker, QUERY, ["short", long_doc])
    assert {a["index"]: a["score"] for a in r.json()} == pytest.approx(dict(enumerate(map(float, expected))), abs=1e-6)


def test_long_documents_are_reported_in_meta_warnings(server):
    body = {"query": QUERY, "documents": [documents(1, 700)[0], "short"], "max_tokens_per_doc": 600}
    meta = httpx.post(f"{server.url}/v2/rerank", json=body, headers=auth()).json()["meta"]
    assert any("max_tokens_per_doc" in w and "documents[0]" in w for w in meta["warnings"])
    assert any("truncated" in w for w in meta["warnings"])


def test_max_chunks_per_doc_scores_long_documents_by_their_best_window(server, reranker):
    docs = [documents(1, 1500)[0], "short"]
    body = {"query": QUERY, "documents": docs, "max_chunks_per_doc": 2}
    response = httpx.post(f"{server.url}/v1/rerank", json=body, headers=auth())
    assert response.status_code == 200, response.text
    answer = response.json()
    expected = reranker.score_pairs([(QUERY, d) for d in docs], long_documents="maxp", max_windows=2)
    assert {r["index"]: r["relevance_score"] for r in answer["results"]} == pytest.approx(
        dict(enumerate(map(float, expected))), abs=1e-6)
    assert any("max_chunks_per_doc" in w and "documents[0]" in w for w in answer["meta"]["warnings"])


def test_health_info_docs_and_metrics(server, reranker):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}  # open without a key
    assert httpx.get(f"{server.url}/docs").status_code == 200
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/v1/rerank", "/v2/rerank", "/rerank", "/health", "/info", "/metrics"} <= set(paths)
    assert httpx.get(f"{server.url}/info").status_code == 401
    info = httpx.get(f"{server.url}/info", headers=auth()).json()
    # The tiny bundle's gate picks its default rung on the machine that exports it (int8_token here, fp32 there).
    assert info["max_length"] == 512 and info["precision"] == reranker.precision and info["model_id"] == "crossrank"
    metrics = httpx.get(f"{server.url}/metrics", headers=auth()).text
    assert 'crossrank_requests_total{route="/v2/rerank",status="200"}' in metrics
    for name in ("crossrank_queue_pairs", "crossrank_queue_tokens", "crossrank_queue_seconds_bucket",
                 "crossrank_tokenization_seconds_bucket", "crossrank_inference_seconds_bucket",
                 "crossrank_input_tokens_bucket"):
        assert name in metrics
