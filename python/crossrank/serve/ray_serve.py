"""``crossrank serve --ray-replicas N``: the same server app as N Ray Serve replicas behind Ray's proxy.

Each replica builds the FastAPI app of :mod:`crossrank.serve.app` and loads its model in its own
process (nothing native is pickled: only the settings travel), then answers the requests Ray's proxy
routes to it by running them through that app, so every route, error, header and metric is the one
server's. Ray Serve's backpressure sits in front: at most ``max_ongoing_requests`` requests in a
replica, at most ``max_queued_requests`` waiting for one (more get Ray's 503); inside a replica the
app's own token-bounded queue still answers 429. Ray is imported only here (``crossrank[ray]``).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from crossrank.serve.app import create_app
from crossrank.serve.settings import ServeSettings

RAY_SERVE_HINT = "pip install 'crossrank[ray]'  (Ray Serve)"
# Requests a replica works on at once: the engine takes one micro-batch at a time, so a few suffice to
# keep its queue fed while the next requests tokenize.
MAX_ONGOING_REQUESTS = 8
MAX_QUEUED_REQUESTS = 64


class AppReplica:
    """One replica: the crossrank app with its model loaded, called as an ASGI app per request."""

    def __init__(self, settings: ServeSettings) -> None:
        self.app = create_app(settings)
        self.state = self.app.state.crossrank
        self.state.load()  # blocking: Ray marks the replica ready once the model is loaded
        if self.state.service is None:
            raise RuntimeError(f"crossrank serve replica: the model did not load ({self.state.load_error})")

    async def __call__(self, request: Any) -> Any:
        """Run Ray's starlette REQUEST through the app; return its response."""
        from starlette.responses import Response

        body = await request.body()
        delivered = False
        never = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await never.wait()  # the client stays connected as far as the app can tell
            return {"type": "http.disconnect"}

        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(dict(request.scope), receive, send)
        response = Response(b"".join(chunks), status_code=start.get("status", 500))
        response.raw_headers = list(start.get("headers", []))  # the app's own (bytes, bytes) headers
        return response

    def __del__(self) -> None:
        state = getattr(self, "state", None)
        if state is not None:
            state.close()


def serve_on_ray(settings: ServeSettings, *, replicas: int, address: str | None = None,
                 max_ongoing_requests: int = MAX_ONGOING_REQUESTS,
                 max_queued_requests: int = MAX_QUEUED_REQUESTS) -> int:
    """Serve SETTINGS' model as REPLICAS Ray Serve replicas on settings.host:settings.port until
    SIGTERM / SIGINT; returns 0 after Ray Serve shut down.

    Args:
        settings: the server's options (each replica gets ``threads`` CPUs, default 1).
        replicas: replicas (processes) of the app.
        address: the Ray cluster to join (None: start a local one, or RAY_ADDRESS).
        max_ongoing_requests / max_queued_requests: Ray Serve's backpressure per replica / in total.
    """
    try:
        import ray
        from ray import serve
    except ImportError:
        raise ImportError(f"--ray-replicas needs Ray Serve: {RAY_SERVE_HINT}") from None
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    ray.init(address=address, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    deployment = serve.deployment(
        AppReplica, name="crossrank", num_replicas=replicas, max_ongoing_requests=max_ongoing_requests,
        max_queued_requests=max_queued_requests, ray_actor_options={"num_cpus": settings.threads or 1})
    serve.run(deployment.bind(settings), name="crossrank", route_prefix="/", blocking=False)
    print(f"crossrank serve: {replicas} Ray Serve replica(s) on http://{settings.host}:{settings.port}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})  # blocked above, so they arrive here
    serve.shutdown()
    ray.shutdown()
    return 0

