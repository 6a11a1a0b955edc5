"""Run the server under uvicorn, with a SIGTERM (or Ctrl-C) drain: new rerank requests get 503, in-flight
ones finish (up to ``drain_timeout_s``), then the process exits 0. A second signal exits at once."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from crossrank.serve.app import create_app
from crossrank.serve.settings import ServeSettings
from crossrank.serve.state import ServerState

log = logging.getLogger("crossrank.serve")
POLL_S = 0.05


def serve(settings: ServeSettings) -> int:
    """Serve until SIGTERM / SIGINT; returns the exit status (0 after a drain)."""
    try:
        import fastapi  # noqa: F401  (checked here: the app factory needs it)
        import uvicorn
    except ImportError as error:
        raise ImportError(f"crossrank serve needs the [serve] extra: pip install 'crossrank[serve]' "
                          f"({error})") from None
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            timeout_graceful_shutdown=max(1, int(settings.drain_timeout_s)), access_log=False)
    server = _draining_server_class(uvicorn.Server)(config, app.state.crossrank)
    server.run()
    return 0


def _draining_server_class(base: type) -> type:
    """uvicorn.Server whose first exit signal drains before shutting down (defined here: uvicorn loads late)."""

    class DrainingServer(base):
        def __init__(self, config: Any, state: ServerState) -> None:
            super().__init__(config)
            self.crossrank_state = state

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.crossrank_state.draining or self.should_exit:
                self.force_exit = self.should_exit = True  # second signal: stop now
                return
            self.crossrank_state.draining = True
            threading.Thread(target=self._drain, name="crossrank-drain", daemon=True).start()

        def _drain(self) -> None:
            state = self.crossrank_state
            deadline = time.monotonic() + state.settings.drain_timeout_s
            while state.in_flight > 0 and time.monotonic() < deadline:
                time.sleep(POLL_S)
            if state.in_flight:
                log.warning("crossrank serve: %d request(s) still running after %.0f s; exiting anyway",
                            state.in_flight, state.settings.drain_timeout_s)
            self.should_exit = True

    return DrainingServer
