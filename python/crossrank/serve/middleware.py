"""What every request passes first (a plain ASGI middleware): count it, refuse it while draining, check
the API key, and read the body within its size limit and as UTF-8, before any route sees it."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from crossrank.serve.errors import ApiError, error_body
from crossrank.serve.state import ServerState

RERANK_PATHS = ("/v1/rerank", "/v2/rerank", "/rerank")
ROUTES = RERANK_PATHS + ("/health", "/info", "/metrics", "/docs", "/openapi.json")
OPEN_PATHS = ("/health", "/docs", "/openapi.json", "/docs/oauth2-redirect")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Guard:
    """ASGI middleware in front of the FastAPI app.

    Args:
        app: the ASGI app it guards.
        state: the server's state (settings, metrics, draining flag, in-flight count).
    """

    def __init__(self, app: Callable[..., Awaitable[None]], state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        status = {"code": 500}

        async def send_counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        rerank = path in RERANK_PATHS
        if rerank:
            self.state.in_flight += 1
        try:
            await self._guarded(scope, receive, send_counted, path)
        finally:
            if rerank:
                self.state.in_flight -= 1
            self.state.metrics.requests.labels(path if path in ROUTES else "other", str(status["code"])).inc()

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        try:
            if self.state.draining and path in RERANK_PATHS:
                raise ApiError(503, "the server is shutting down; send the request to another instance",
                               headers={"Connection": "close"})
            self._check_key(scope, path)
            if scope["method"] in ("POST", "PUT", "PATCH"):
                receive = await self._read_body(scope, receive)
        except ApiError as error:
            await _send_error(send, path, error)
            return
        await self.app(scope, receive, send)

    def _check_key(self, scope: Scope, path: str) -> None:
        key = self.state.settings.api_key
        if not key or path in OPEN_PATHS:
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise ApiError(401, "Authorization: this server needs an API key: send 'Authorization: Bearer <key>'",
                           field="Authorization", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.strip().encode(), key.encode()):
            raise ApiError(401, "Authorization: wrong API key", field="Authorization",
                           headers={"WWW-Authenticate": "Bearer"})

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive:
        """The whole body (up to max_body_bytes, checked as UTF-8), replayed to the app."""
        limit = self.state.settings.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ApiError(499, "the client closed the connection")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(size, limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ApiError(400, f"body: not valid UTF-8 (byte {error.start}: {body[error.start:error.start + 1]!r}); "
                                "send JSON encoded as UTF-8", field="body") from None
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, f"body: {size} bytes, more than the server accepts ({limit}, --max-body-bytes); "
                         "send fewer or shorter documents", field="body")


async def _send_error(send: Send, path: str, error: ApiError) -> None:
    body = json.dumps(error_body(path, error)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
