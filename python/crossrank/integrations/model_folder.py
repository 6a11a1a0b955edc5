"""What a drop-in loads: a crossrank bundle as it is, or a Hugging Face folder exported once.

A Hugging Face sequence-classification folder (config.json, weights, tokenizer files) is exported
with ``crossrank export``'s defaults (:func:`crossrank.export.pipeline.export_bundle`: int8 with
the quality gate, whose precision decision the bundle then carries) into
``$CROSSRANK_HOME/exports/<name>-<key>``. The key is a SHA-256 over the folder's top-level files,
names and contents (what the export reads), so editing the weights in place exports again while
moving or copying the folder does not. The export prints one line saying so, then its steps.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrank.bundle import is_bundle, read_manifest, sha256_file
from crossrank.export.pipeline import export_bundle
from crossrank.home import exports_dir
from crossrank.reranker import Reranker

# Characters of the key in the cache folder's name: 64 bits of SHA-256.
KEY_CHARS = 16
# tokenizer_config.json's model_max_length when the tokenizer sets none (transformers' VERY_LARGE_INTEGER).
_UNSET_MODEL_MAX_LENGTH = 10**12


@dataclass(frozen=True)
class ModelFolder:
    """A model given to a drop-in, resolved.

    Attributes:
        bundle: the bundle folder to load.
        source: the Hugging Face folder it was exported from; None when a bundle was given.
        config: the source's config.json (empty for a bundle): sentence-transformers reads its
            ``sentence_transformers.activation_fn`` and ``num_labels``.
        model_max_length: the source tokenizer's model_max_length (None: unset, or a bundle given).
    """

    bundle: Path
    source: Path | None = None
    config: dict[str, Any] | None = None
    model_max_length: int | None = None


def content_key(folder: Path) -> str:
    """SHA-256 over FOLDER's top-level files (not dot files): each file's name and content hash."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def cached_bundle_dir(folder: Path) -> Path:
    """Where the export of the Hugging Face FOLDER is cached: ``$CROSSRANK_HOME/exports/<name>-<key>``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip(".-") or "model"
    return exports_dir() / f"{name}-{content_key(folder)[:KEY_CHARS]}"


def _is_current(bundle: Path) -> bool:
    """Whether a cached export has what this crossrank writes (its engine graphs)."""
    try:
        return bool(read_manifest(bundle).get("engine_files"))
    except (OSError, ValueError):
        return False


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _model_max_length(folder: Path) -> int | None:
    value = _read_json(folder / "tokenizer_config.json").get("model_max_length")
    if isinstance(value, (int, float)) and 0 < value < _UNSET_MODEL_MAX_LENGTH:
        return int(value)
    return None


def export_once(folder: Path, *, progress: bool = True) -> Path:
    """The bundle exported from the Hugging Face FOLDER: from the cache, else exported now.

    Args:
        folder: a Hugging Face sequence-classification folder.
        progress: print a line before the export, and the export's steps (stderr).

    Raises:
        ImportError: it must be exported and the ``[export]`` extra (torch, transformers,
            optimum-onnx) is not installed.
        ValueError: not a supported sequence-classification model.
    """
    target = cached_bundle_dir(folder)
    if is_bundle(target) and _is_current(target):
        return target
    if progress:
        print(f"crossrank: exporting the Hugging Face folder {folder} to a bundle in {target} "
              "(once: later loads of the same files use it)", file=sys.stderr, flush=True)
    return export_bundle(folder, target, progress=progress)


def resolve_model(model: object, *, progress: bool = True, name: str = "model") -> ModelFolder:
    """MODEL (a bundle folder, or a Hugging Face folder exported once) as a :class:`ModelFolder`.

    Args:
        model: the path given to the drop-in.
        progress: print the export's progress (first use of a Hugging Face folder only).
        name: the argument's name, for the errors.

    Raises:
        TypeError: MODEL is not a path.
        FileNotFoundError: MODEL is neither a bundle nor a Hugging Face folder (a Hub id included:
            download it first, e.g. with ``huggingface_hub.snapshot_download``).
    """
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path (str or Path), got {type(model).__name__}")
    folder = Path(model).expanduser()
    if is_bundle(folder):
        return ModelFolder(folder)
    if (folder / "config.json").is_file():
        return ModelFolder(export_once(folder, progress=progress), folder, _read_json(folder / "config.json"),
                           _model_max_length(folder))
    where = "is a file" if folder.is_file() else "has no crossrank.json or config.json" if folder.is_dir() \
        else "does not exist"
    raise FileNotFoundError(
        f"{name} {os.fspath(model)!r} {where}: crossrank loads a bundle folder (crossrank export) or a "
        "local Hugging Face model folder; for a Hub id, download it first, e.g. "
        "huggingface_hub.snapshot_download('cross-encoder/ms-marco-MiniLM-L6-v2'), and pass that folder")


def load_reranker(model: object, *, progress: bool = True, **options: Any) -> Reranker:
    """A Reranker for the adapters: MODEL itself when it is one, else loaded from the bundle or the
    Hugging Face folder MODEL (exported once), with OPTIONS (``precision``, ``threads`` ...).

    Raises:
        ValueError: OPTIONS given with a Reranker (they are set when it is built).
    """
    if isinstance(model, Reranker):
        if options:
            raise ValueError(f"{', '.join(sorted(options))}: pass them when building the Reranker, not with one")
        return model
    return Reranker(resolve_model(model, progress=progress).bundle, **options)
