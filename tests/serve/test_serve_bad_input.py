"""Every bad input gets a 4xx JSON answer whose message names the field, no stack trace, and the server
keeps serving."""

from __future__ import annotations

import json

import pytest

from serve_helpers import QUERY, need_server_deps, running_server

need_server_deps()
httpx = pytest.importorskip("httpx")

KEY = "k3y"
MAX_DOCUMENTS, MAX_CHARS, MAX_BODY = 50, 5000, 100_000
GOOD = {"query": QUERY, "documents": ["one document", "another document"]}


@pytest.fixture(scope="module")
def server(tiny_bundle):
    with running_server(tiny_bundle, "--max-documents", str(MAX_DOCUMENTS), "--max-text-chars", str(MAX_CHARS),
                        "--max-body-bytes", str(MAX_BODY), env={"CROSSRANK_API_KEY": KEY}) as s:
        yield s


def post(server, path: str, content: bytes | str, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"} | (headers or {})
    return httpx.post(f"{server.url}{path}", content=content, headers=headers, timeout=30)


def with_(**fields) -> str:
    return json.dumps({**GOOD, **fields})


COHERE_CASES = [
    # (name, body, status, text the message must contain)
    ("malformed JSON", '{"query": "x", "documents": [', 400, "body: not valid JSON"),
    ("not an object", "[1, 2]", 422, "body"),
    ("non-UTF-8 bytes", b'{"query": "caf\xe9", "documents": ["a"]}', 400, "body: not valid UTF-8"),
    ("missing query", json.dumps({"documents": ["a"]}), 422, "query: required field is missing"),
    ("query of the wrong type", with_(query=5), 422, "query"),
    ("empty query", with_(query=""), 422, "query: must not be empty"),
    ("documents not a list", with_(documents="one string"), 422, "documents"),
    ("empty documents", with_(documents=[]), 422, "documents"),
    ("a null document", with_(documents=["a", None]), 422, "documents[1]"),
    ("a number as document", with_(documents=["a", 3]), 422, "documents[1]"),
    ("an empty document", with_(documents=["a", ""]), 422, "documents[1]: must not be empty"),
    ("a document object without text", with_(documents=[{"title": "t"}]), 422, "documents[0]"),
    ("top_n zero", with_(top_n=0), 422, "top_n"),
    ("top_n negative", with_(top_n=-3), 422, "top_n"),
    ("top_n above the count", with_(top_n=3), 422, "top_n: must be at most the number of documents (2)"),
    ("top_n as a string", with_(top_n="2"), 422, "top_n"),
    ("return_documents not a bool", with_(return_documents="yes"), 422, "return_documents"),
    ("max_tokens_per_doc zero", with_(max_tokens_per_doc=0), 422, "max_tokens_per_doc"),
    ("max_chunks_per_doc zero", with_(max_chunks_per_doc=0), 422, "max_chunks_per_doc"),
    ("max_chunks_per_doc huge", with_(max_chunks_per_doc=10**6), 422, "max_chunks_per_doc"),
    ("a huge document", with_(documents=["a", "word " * 2000]), 413, "documents[1]"),
    ("a huge query", with_(query="word " * 2000), 413, "query"),
    ("too many documents", with_(documents=["d"] * (MAX_DOCUMENTS + 1)), 413, "documents"),
    ("too large a body", with_(documents=["word " * 900] * 30), 413, "body"),
    ("a query too long to leave room", with_(query="word " * 600), 422, "query"),
]


@pytest.mark.parametrize("path", ["/v1/rerank", "/v2/rerank"])
@pytest.mark.parametrize(("name", "body", "status", "text"), COHERE_CASES, ids=[c[0] for c in COHERE_CASES])
def test_bad_cohere_input_gets_a_4xx_naming_the_field(server, path, name, body, status, text):
    r = post(server, path, body)
    assert r.status_code == status, r.text
    message = r.json()["message"]
    assert text in message
    assert "Traceback" not in r.text and 'File "' not in r.text


TEI_CASES = [
    ("texts missing", json.dumps({"query": "q"}), 422, "texts"),
    ("an empty text", json.dumps({"query": "q", "texts": ["a", ""]}), 422, "texts[1]"),
    ("raw_scores not a bool", json.dumps({"query": "q", "texts": ["a"], "raw_scores": 1}), 422, "raw_scores"),
    ("a bad truncation direction", json.dumps({"query": "q", "texts": ["a"], "truncation_direction": "Up"}), 422,
     "truncation_direction"),
]


@pytest.mark.parametrize(("name", "body", "status", "text"), TEI_CASES, ids=[c[0] for c in TEI_CASES])
def test_bad_tei_input_gets_teis_error_shape(server, name, body, status, text):
    r = post(server, "/rerank", body)
    assert r.status_code == status, r.text
    assert text in r.json()["error"] and r.json()["error_type"] == "Validation"


@pytest.mark.parametrize(("headers", "text"), [({"Authorization": ""}, "Bearer <key>"),
                                               ({"Authorization": "Bearer nope"}, "wrong API key"),
                                               ({"Authorization": f"Basic {KEY}"}, "Bearer <key>")])
def test_a_missing_or_wrong_api_key_is_refused(server, headers, text):
    r = post(server, "/v2/rerank", json.dumps(GOOD), headers)
    assert r.status_code == 401 and text in r.json()["message"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_the_server_keeps_serving_after_bad_input(server):
    for body, _status, _text in [(c[1], c[2], c[3]) for c in COHERE_CASES]:
        post(server, "/v2/rerank", body)
    r = post(server, "/v2/rerank", json.dumps(GOOD))
    assert r.status_code == 200 and len(r.json()["results"]) == 2
    metrics = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
    assert 'crossrank_requests_total{route="/v2/rerank",status="422"}' in metrics
    assert "crossrank_queue_tokens 0.0" in metrics
