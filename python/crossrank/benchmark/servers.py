"""The servers ``crossrank bench-serve`` loads: ``crossrank serve`` and Infinity, each started as a child
process on 127.0.0.1 with a free port, ready once ``/health`` answers 200, stopped with SIGTERM.

Infinity (``infinity-emb``) serves the same model with its best CPU backend, ``--engine optimum``
(ONNX Runtime; its other CPU engine runs PyTorch fp32). On CPU it prefers an ONNX file whose name
contains ``quantize``, so its folder is the bundle's Hugging Face source (config and tokenizer) plus
the bundle's standard int8 graph as ``model_quantized.onnx``: the graph the ONNX peers of
``crossrank bench`` run. It is started inside that folder with ``--model-id .`` because Infinity
0.0.78 hands optimum 2.x an absolute file name, which optimum refuses; its ONNX cache
(``HF_HUB_CACHE``) is kept in the folder. ``HF_HUB_OFFLINE=1``: nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crossrank.benchmark.load import COHERE, INFINITY, Target
from crossrank.benchmark.peers import PeerUnavailable, peer_cache_dir, hf_folder
from crossrank.bundle import Bundle

START_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 30.0
HF_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A server child process whose output goes to a temporary log file (shown if it fails)."""

    def __init__(self, name: str, command: list[str], port: int, *, env: dict | None = None,
                 cwd: Path | None = None) -> None:
        self.name, self.url = name, f"http://127.0.0.1:{port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"crossrank-bench-{name}-", suffix=".log", delete=False)
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def log_tail(self, lines: int = 20) -> str:
        """The last LINES of the server's output."""
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> ServerProcess:
        """Poll ``/health`` until 200; ``RuntimeError`` with the log's tail if it exits or times out."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.process.returncode} before it was ready; "
                                   f"its log ({self.log.name}) ends:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {timeout_s:.0f} s; its log ({self.log.name}) ends:\n"
                           f"{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
        return self.process.returncode


def _child_env(**extra: str) -> dict:
    """This environment with this crossrank's source folder first on PYTHONPATH (runs from a checkout too)."""
    source = str(Path(__file__).resolve().parents[2])  # the folder that holds the crossrank package
    path = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
    return dict(os.environ, PYTHONPATH=path, **extra)


def start_crossrank(bundle: Path, threads: int | None, extra_args: list[str] | None = None) -> tuple[ServerProcess, Target]:
    """Start ``crossrank serve BUNDLE`` on a free port; returns the process and its target (Cohere route)."""
    port = free_port()
    command = [sys.executable, "-m", "crossrank.cli", "serve", str(bundle), "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", *(["--threads", str(threads)] if threads else []),
               *(extra_args or [])]
    process = ServerProcess("crossrank", command, port, env=_child_env())
    return process, Target("crossrank", process.url, COHERE, model="crossrank")


def infinity_folder(bundle: Bundle) -> Path:
    """The folder Infinity serves: the bundle's HF config and tokenizer plus its int8 graph."""
    source = hf_folder(bundle)
    folder = peer_cache_dir(bundle) / "infinity"
    folder.mkdir(parents=True, exist_ok=True)
    for name in HF_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, folder / name)
    shutil.copyfile(bundle.model_file("int8"), folder / "model_quantized.onnx")
    return folder


def start_infinity(bundle: Bundle) -> tuple[ServerProcess, Target]:
    """Start Infinity (``python -m infinity_emb.cli v2 --engine optimum``) on the bundle's model, offline.

    Raises:
        PeerUnavailable: when ``infinity_emb`` is not importable here.
    """
    if importlib.util.find_spec("infinity_emb") is None:
        raise PeerUnavailable("infinity-emb is not installed (see README, 'Serving speed', for the install)")
    folder = infinity_folder(bundle)
    port = free_port()
    command = [sys.executable, "-m", "infinity_emb.cli", "v2", "--model-id", ".", "--served-model-name", "infinity",
               "--engine", "optimum", "--device", "cpu", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning"]
    env = _child_env(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(folder / ".hub"), INFINITY_ANONYMOUS_USAGE_STATS="0",
                     DO_NOT_TRACK="1")
    process = ServerProcess("infinity", command, port, env=env, cwd=folder)
    return process, Target("infinity", process.url, INFINITY, model="infinity")
