"""Where crossrank keeps what it builds: ``$CROSSRANK_HOME`` (default ``~/.cache/crossrank``).

- ``models/``: the embedded defaults, built on first use (:mod:`crossrank.default_model`);
- ``bench-peers/``: what the benchmark's peer engines write (:mod:`crossrank.benchmark.peers`);
- ``exports/``: bundles exported from Hugging Face folders on first use, one per folder content
  (:mod:`crossrank.integrations.model_folder`).
"""

from __future__ import annotations

import os
from pathlib import Path

from crossrank.bundle import read_manifest

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


def is_current_cached_bundle(path: Path) -> bool:
    """Whether a cached bundle (a default model, an export of a Hugging Face folder) has what this
    crossrank's export writes for speed, so that the cache may serve it: engine graphs
    (crossrank.export.engine_graph) and the record of their first-token tail (~14 % of a pair's
    work). Older ones would run slower than a fresh export, and are rebuilt."""
    try:
        manifest = read_manifest(path)
    except (OSError, ValueError):
        return False
    if not manifest.get("engine_files"):
        return False
    fp32_graph = (manifest.get("engine_graphs") or {}).get("fp32") or {}
    return "first_token_tail" in (fp32_graph.get("crossrank_ops") or {})
