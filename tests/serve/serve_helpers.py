"""Start the real ``crossrank serve`` process on 127.0.0.1 for the serve tests, and what they share."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 60.0
QUERY = "what is a cross-encoder"
WORDS = ("cross encoders read the query and the document together and score their relevance while bi encoders "
         "embed each text alone bananas are rich in potassium the river flows into the sea").split()


def need_server_deps() -> None:
    """Skip the module unless the [serve] and [test] packages are installed."""
    for name in ("fastapi", "uvicorn", "prometheus_client", "httpx", "pydantic"):
        pytest.importorskip(name)


def documents(count: int, words: int, seed: int = 0) -> list[str]:
    """COUNT deterministic documents of about WORDS words each."""
    return [" ".join(WORDS[(seed + i * 7 + j * 3) % len(WORDS)] for j in range(words + (i % 5)))
            for i in range(count)]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ``python -m crossrank.cli serve`` child process."""

    def __init__(self, bundle: Path, *args: str, env: dict[str, str] | None = None) -> None:
        import crossrank

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        child_env = dict(os.environ, **(env or {}))
        source = str(Path(crossrank.__file__).resolve().parents[1])
        child_env["PYTHONPATH"] = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
        command = [sys.executable, "-m", "crossrank.cli", "serve", str(bundle), "--port", str(self.port),
                   "--host", "127.0.0.1", "--threads", "2", *args]
        self.process = subprocess.Popen(command, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> Server:
        """Poll /health until 200 (the server loads its model after it starts listening)."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.process.stdout.read()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server was not ready within {timeout_s} s")

    def terminate(self) -> None:
        """Send SIGTERM (the drain)."""
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> str:
        """Stop the process (SIGTERM, then SIGKILL after 15 s); returns its output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.stdout.read() if self.process.stdout else ""


@contextlib.contextmanager
def running_server(bundle: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A ready server for the duration of the block."""
    server = Server(bundle, *args, env=env)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def offline_scores(reranker, query: str, docs: list[str]):
    """``Reranker.score_pairs`` on (QUERY, doc) for each doc: the reference every answer must equal."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reranker.score_pairs([(query, d) for d in docs])
