"""The FastAPI app factory: state, metrics, error handlers, the guard middleware, routes, and a lifespan
that loads the model on a background thread (so /health answers 503 while it loads)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from crossrank._version import __version__
from crossrank.reranker import Reranker
from crossrank.serve.errors import install_handlers
from crossrank.serve.metrics import Metrics
from crossrank.serve.middleware import Guard
from crossrank.serve.routes import register_routes
from crossrank.serve.settings import ServeSettings
from crossrank.serve.state import ServerState

DESCRIPTION = ("Cross-encoder reranking: Cohere v1/v2 and Jina (`/v1/rerank`, `/v2/rerank`) and "
               "text-embeddings-inference (`/rerank`) requests, one fair queue bounded in tokens.")


def create_app(settings: ServeSettings, reranker: Reranker | None = None) -> Any:
    """A FastAPI app serving SETTINGS' model (or RERANKER, already loaded); its state is ``app.state.crossrank``."""
    from fastapi import FastAPI

    state = ServerState(settings)
    state.metrics = Metrics(lambda: state.queued()[0], lambda: state.queued()[1])

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any):
        threading.Thread(target=state.load, args=(reranker,), name="crossrank-load", daemon=True).start()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="crossrank", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.crossrank = state
    install_handlers(app)
    app.add_middleware(Guard, state=state)
    register_routes(app, state)
    return app
