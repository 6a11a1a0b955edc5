"""Every error as a 4xx/5xx JSON answer whose message names the field; no stack trace reaches a client.

Cohere and Jina routes answer ``{"message": ...}`` (what Cohere sends, and what its SDK reads);
TEI's ``/rerank`` answers ``{"error": ..., "error_type": ...}`` as TEI does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

TEI_PATHS = ("/rerank",)
log = logging.getLogger("crossrank.serve")

_TEI_TYPES = {400: "Validation", 401: "Unauthorized", 413: "Validation", 422: "Validation", 429: "Overloaded",
              503: "Unhealthy"}


class ApiError(Exception):
    """An error answered to the client as JSON.

    Args:
        status: HTTP status.
        message: what is wrong and how to fix it, naming the field.
        field: the request field at fault, when there is one.
        headers: extra response headers (e.g. Retry-After).
        kind: TEI's ``error_type``; default from the status.
    """

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.kind = kind or _TEI_TYPES.get(status, "Backend")


def error_body(path: str, error: ApiError) -> dict[str, Any]:
    """The JSON body for ERROR on PATH, in that API's shape."""
    if path in TEI_PATHS:
        return {"error": error.message, "error_type": error.kind}
    body: dict[str, Any] = {"message": error.message}
    if error.field is not None:
        body["field"] = error.field
    return body


def field_name(loc: Sequence[Any]) -> str:
    """``("body", "documents", 3, "text")`` -> ``documents[3].text``."""
    parts = [p for p in loc if p != "body"]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif str(part).startswith("function-"):
            continue  # pydantic's name for a validator, not a field
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


def validation_message(errors: Sequence[dict[str, Any]]) -> tuple[int, str, str]:
    """(status, message, field) for pydantic / FastAPI validation ERRORS: 400 for a body that is not JSON,
    else 422 naming the first bad field (and how many more there are)."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "invalid JSON")
        return 400, f"body: not valid JSON ({detail} at character {first['loc'][-1]})", "body"
    name = field_name(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        msg = "required field is missing"
    elif "input" in first and first.get("type") not in ("value_error",):
        msg += f", got {_short(first['input'])}"
    more = f" ({len(errors) - 1} more error(s))" if len(errors) > 1 else ""
    return 422, f"{name}: {msg}{more}", name


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def install_handlers(app: Any) -> None:
    """Answer ApiError, validation errors, HTTP errors and anything unexpected as JSON on APP."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    def respond(request, error: ApiError):
        return JSONResponse(error_body(request.url.path, error), status_code=error.status, headers=error.headers)

    async def on_api_error(request, error: ApiError):
        return respond(request, error)

    async def on_validation(request, error: RequestValidationError):
        status, message, name = validation_message(error.errors())
        return respond(request, ApiError(status, message, field=name))

    async def on_http(request, error: HTTPException):
        return respond(request, ApiError(error.status_code, str(error.detail), headers=dict(error.headers or {})))

    async def on_unexpected(request, error: Exception):
        log.exception("internal error on %s", request.url.path)
        return respond(request, ApiError(500, f"internal error ({type(error).__name__}); see the server log"))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
