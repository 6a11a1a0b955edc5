"""The HTTP routes: Cohere/Jina /v1/rerank and /v2/rerank, TEI's /rerank, /health, /info and /metrics.

(No ``from __future__ import annotations`` here: FastAPI reads the handlers' annotations, and the
pydantic models are local values built by :func:`crossrank.serve.schemas.schemas`.)
"""

import asyncio
import math
import uuid
from typing import Any

from crossrank._version import __version__
from crossrank.serve.errors import ApiError
from crossrank.serve.schemas import schemas
from crossrank.serve.service import RerankService, Scored
from crossrank.serve.state import ServerState

ERROR_RESPONSES = {status: {"description": text} for status, text in (
    (400, "body not JSON or not UTF-8"), (401, "missing or wrong API key"), (413, "too many documents, "
    "too large a body or string, or (TEI, truncate: false) a pair over max_length"), (422, "a field is invalid"),
    (429, "queue full: retry after Retry-After seconds"), (503, "loading, draining or engine failed"))}


def register_routes(app: Any, state: ServerState) -> None:
    """Add every route to the FastAPI APP, serving from STATE."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    models = schemas()

    @app.post("/v1/rerank", response_model=models.CohereResponse, responses=ERROR_RESPONSES,
              summary="Rerank (Cohere v1 and Jina)")
    async def rerank_v1(body: models.CohereRequest, request: Request):
        content, headers = await _cohere(state, body, request, "1")
        return JSONResponse(content, headers=headers)

    @app.post("/v2/rerank", response_model=models.CohereResponse, responses=ERROR_RESPONSES,
              summary="Rerank (Cohere v2)")
    async def rerank_v2(body: models.CohereRequest, request: Request):
        content, headers = await _cohere(state, body, request, "2")
        return JSONResponse(content, headers=headers)

    @app.post("/rerank", response_model=list[models.TeiResult], responses=ERROR_RESPONSES,
              summary="Rerank (text-embeddings-inference)")
    async def rerank_tei(body: models.TeiRequest, request: Request):
        content, headers = await _tei(state, body, request)
        return JSONResponse(content, headers=headers)

    @app.get("/health", summary="200 when ready; 503 while loading, draining or after an engine failure")
    async def health():
        status, word = state.health
        body = {"status": word}
        if state.load_error:
            body["error"] = state.load_error
        return JSONResponse(body, status_code=status)

    @app.get("/info", summary="model, precision, max_length, limits, version")
    async def info():
        return JSONResponse(_info(state))

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics():
        body, content_type = state.metrics.render()
        return Response(body, media_type=content_type)


def _service(state: ServerState) -> RerankService:
    if state.load_error is not None:
        raise ApiError(503, f"the model failed to load ({state.load_error}); see the server log")
    if state.service is None:
        raise ApiError(503, "the model is still loading; retry shortly", headers={"Retry-After": "1"})
    return state.service


def _check_size(state: ServerState, query: str, texts: list[str], name: str) -> None:
    settings = state.settings
    if len(texts) > settings.max_documents:
        raise ApiError(413, f"{name}: {len(texts)} documents, more than the server accepts per request "
                            f"({settings.max_documents}, --max-documents); split the request", field=name)
    if len(query) > settings.max_text_chars:
        raise ApiError(413, f"query: {len(query)} characters, more than the server accepts "
                            f"({settings.max_text_chars}, --max-text-chars)", field="query")
    for i, text in enumerate(texts):
        if len(text) > settings.max_text_chars:
            raise ApiError(413, f"{name}[{i}]: {len(text)} characters, more than the server accepts "
                                f"({settings.max_text_chars}, --max-text-chars); shorten it", field=f"{name}[{i}]")


async def _cohere(state: ServerState, body: Any, request: Any, version: str) -> tuple[dict, dict]:
    service = _service(state)
    docs = body.documents
    if body.top_n is not None and body.top_n > len(docs):
        raise ApiError(422, f"top_n: must be at most the number of documents ({len(docs)}), got {body.top_n}",
                       field="top_n")
    _check_size(state, body.query, docs, "documents")
    prepared = await asyncio.to_thread(service.prepare, body.query, docs, max_tokens_per_doc=body.max_tokens_per_doc,
                                       max_chunks_per_doc=body.max_chunks_per_doc)
    scored = await service.score(prepared, request.is_disconnected)
    _observe(state, scored)
    results = []
    for i in scored.order[:body.top_n]:
        result: dict[str, Any] = {"index": int(i), "relevance_score": float(scored.scores[i])}
        if body.return_documents:
            result["document"] = {"text": docs[i]}
        results.append(result)
    meta = {"api_version": {"version": version}, "billed_units": {"search_units": math.ceil(len(docs) / 100)},
            "tokens": {"input_tokens": prepared.tokens, "output_tokens": 0}}
    warnings = _warnings(service, scored)
    if warnings:
        meta["warnings"] = warnings
    content = {"id": str(uuid.uuid4()), "results": results, "meta": meta, "model": state.settings.model_name,
               "usage": {"total_tokens": prepared.tokens, "prompt_tokens": prepared.tokens}}
    return content, _timing_headers(scored)


async def _tei(state: ServerState, body: Any, request: Any) -> tuple[list, dict]:
    service = _service(state)
    texts = body.texts
    _check_size(state, body.query, texts, "texts")
    truncate = state.settings.auto_truncate if body.truncate is None else body.truncate
    left = body.truncation_direction.lower() == "left"
    prepared = await asyncio.to_thread(service.prepare, body.query, texts, truncate=truncate, left=left)
    scored = await service.score(prepared, request.is_disconnected)
    _observe(state, scored)
    values = scored.logits[:, service.reranker.bundle.score_index] if body.raw_scores else scored.scores
    order = sorted(range(len(texts)), key=lambda i: (-float(values[i]), i))
    content = []
    for i in order:
        result: dict[str, Any] = {"index": i, "score": float(values[i])}
        if body.return_text:
            result["text"] = texts[i]
        content.append(result)
    return content, _timing_headers(scored)


def _warnings(service: RerankService, scored: Scored) -> list[str]:
    prepared = scored.prepared
    warnings = []
    if prepared.cut_documents:
        shown = ", ".join(f"documents[{i}]" for i in prepared.cut_documents[:5])
        warnings.append(f"max_tokens_per_doc: {len(prepared.cut_documents)} document(s) were cut to "
                        f"max_tokens_per_doc tokens ({shown}{', ...' if len(prepared.cut_documents) > 5 else ''})")
    if prepared.chunked_documents:
        shown = ", ".join(f"documents[{i}]" for i in prepared.chunked_documents[:5])
        more = ", ..." if len(prepared.chunked_documents) > 5 else ""
        warnings.append(f"max_chunks_per_doc: {len(prepared.chunked_documents)} document(s) had more windows than "
                        f"max_chunks_per_doc; only their first windows were scored ({shown}{more})")
    if prepared.truncated_pairs:
        warnings.append(f"{prepared.truncated_pairs} (query, document) pair(s) were longer than the model's "
                        f"max_length of {service.max_length} tokens; their documents were truncated")
    return warnings


def _observe(state: ServerState, scored: Scored) -> None:
    prepared = scored.prepared
    state.metrics.observe_request(prepared.job.pair_tokens, prepared.tokenization_s, scored.queue_s,
                                  scored.inference_s)


def _timing_headers(scored: Scored) -> dict[str, str]:
    """TEI's timing headers, in whole milliseconds."""
    prepared = scored.prepared
    return {"x-compute-type": "cpu", "x-compute-tokens": str(prepared.tokens),
            "x-total-time": str(round(scored.total_s * 1000)), "x-tokenization-time":
            str(round(prepared.tokenization_s * 1000)), "x-queue-time": str(round(scored.queue_s * 1000)),
            "x-inference-time": str(round(scored.inference_s * 1000))}


def _info(state: ServerState) -> dict[str, Any]:
    settings = state.settings
    info: dict[str, Any] = {"model_id": settings.model_name, "model_type": "reranker", "version": __version__,
                            "max_documents": settings.max_documents, "max_queue_tokens": settings.max_queue_tokens,
                            "max_body_bytes": settings.max_body_bytes, "batch_pairs": settings.batch_pairs,
                            "auto_truncate": settings.auto_truncate, "status": state.health[1]}
    if state.service is not None:
        reranker = state.service.reranker
        info.update(bundle=str(reranker.bundle.path), precision=reranker.precision,
                    max_length=reranker.max_length, max_input_length=reranker.max_length,
                    truncation=reranker.truncation, activation=reranker.activation, threads=reranker.threads)
    return info
