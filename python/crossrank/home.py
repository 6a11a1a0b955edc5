"""Where crossrank keeps what it builds: ``$CROSSRANK_HOME`` (default ``~/.cache/crossrank``).

- ``models/``: the embedded defaults, built on first use (:mod:`crossrank.default_model`);
- ``bench-peers/``: what the benchmark's peer engines write (:mod:`crossrank.benchmark.peers`);
- ``exports/``: bundles exported from Hugging Face folders on first use, one per folder content
  (:mod:`crossrank.integrations.model_folder`).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CROSSRANK_HOME"


def crossrank_home() -> Path:
    """``$CROSSRANK_HOME``, or ``~/.cache/crossrank``."""
    return Path(os.environ.get(ENV_VAR) or "~/.cache/crossrank").expanduser()


def models_dir() -> Path:
    """Where the embedded default models are cached (it may not exist yet)."""
    return crossrank_home() / "models"


def bench_peers_dir() -> Path:
    """Where the benchmark's peer engines keep their exported models."""
    return crossrank_home() / "bench-peers"


def exports_dir() -> Path:
    """Where Hugging Face folders given to ``crossrank.CrossEncoder`` and the adapters are exported."""
    return crossrank_home() / "exports"
