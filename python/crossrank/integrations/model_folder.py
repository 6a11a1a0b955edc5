"""What a drop-in loads: a crossrank bundle as it is, or a Hugging Face folder exported once.

A Hugging Face sequence-classification folder (config.json, weights, tokenizer files) is exported
with ``crossrank export``'s defaults (:func:`crossrank.export.pipeline.export_bundle`: int8 with
the quality gate, whose precision decision the bundle then carries) into
``$CROSSRANK_HOME/exports/<key>``. The key is a SHA-256 over the folder's top-level files,
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

from crossrank.bundle import is_bundle, sha256_file
from crossrank.export.pipeline import export_bundle
from crossrank.home import exports_dir, is_current_cached_bundle
from crossrank.reranker import Reranker

# Characters of the key in the cache folder's name: 64 bits of SHA-256.
KEY_CHARS = 16
# What a Hub download fetches: the top-level files an export reads (fnmatch's * crosses "/", but the
# exact names keep the weights of onnx/ and openvino/ subfolders out).
HUB_FILES = ("*.json", "*.txt", "*.model", "model.safetensors", "model-*-of-*.safetensors",
             "pytorch_model.bin", "pytorch_model-*-of-*.bin")
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
    """Where the export of the Hugging Face FOLDER is cached: ``$CROSSRANK_HOME/exports/<key>``, named by
    content alone, so that the same files under another name (a Hub snapshot, a copy) share it."""
    return exports_dir() / content_key(folder)[:KEY_CHARS]


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
    if is_bundle(target) and is_current_cached_bundle(target):
        return target
    if progress:
        print(f"crossrank: exporting the Hugging Face folder {folder} to a bundle in {target} "
              "(once: later loads of the same files use it)", file=sys.stderr, flush=True)
    return export_bundle(folder, target, progress=progress)


def _is_hub_id(model: object) -> bool:
    """Whether MODEL reads as a Hub id ('name' or 'org/name') rather than a path."""
    return isinstance(model, str) and re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", model) is not None


def download(repo_id: str, *, name: str = "model", **hub: Any) -> Path:
    """The Hugging Face Hub model REPO_ID as a local folder (huggingface_hub's cache): its top-level
    config, weights and tokenizer files, not the ONNX / OpenVINO copies some repositories carry.

    Args:
        repo_id: 'org/name'.
        name: the argument's name, for the errors.
        **hub: ``revision``, ``token``, ``cache_folder``, ``local_files_only``.

    Raises:
        ImportError: huggingface_hub is not installed.
        FileNotFoundError: the Hub did not give it (offline, unknown id, not in the cache).
    """
    try:
        from huggingface_hub import snapshot_download
    except ImportError as error:
        raise ImportError(f"{name} {repo_id!r} is a Hub id: downloading it needs huggingface_hub "
                          f"({error}): pip install 'crossrank[export]'") from error
    try:
        return Path(snapshot_download(repo_id, revision=hub.get("revision"), token=hub.get("token"),
                                      cache_dir=hub.get("cache_folder"),
                                      local_files_only=bool(hub.get("local_files_only")),
                                      allow_patterns=list(HUB_FILES)))
    except Exception as error:  # huggingface_hub's errors (offline, not found, not cached) share no base
        raise FileNotFoundError(
            f"{name} {repo_id!r} is no local folder, and the Hugging Face Hub did not give it "
            f"({type(error).__name__}: {error}); on an offline machine pass the model's folder") from error


def resolve_model(model: object, *, progress: bool = True, name: str = "model", **hub: Any) -> ModelFolder:
    """MODEL (a bundle folder, a Hugging Face folder or Hub id, exported once) as a :class:`ModelFolder`.

    Args:
        model: the path given to the drop-in.
        progress: print the export's progress (first use of a Hugging Face folder only).
        name: the argument's name, for the errors.
        **hub: for a Hub id (:func:`download`): ``revision``, ``token``, ``cache_folder``, ``local_files_only``.

    Raises:
        TypeError: MODEL is not a path.
        FileNotFoundError: MODEL is neither a bundle nor a Hugging Face folder, nor a Hub id the Hub gave.
    """
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path (str or Path) or a Hub id, got {type(model).__name__}")
    folder = Path(model).expanduser()
    if not folder.exists() and _is_hub_id(model):
        folder = download(str(model), name=name, **hub)
    if is_bundle(folder):
        return ModelFolder(folder)
    if (folder / "config.json").is_file():
        return ModelFolder(export_once(folder, progress=progress), folder, _read_json(folder / "config.json"),
                           _model_max_length(folder))
    where = "is a file" if folder.is_file() else "has no crossrank.json or config.json" if folder.is_dir() \
        else "does not exist"
    raise FileNotFoundError(f"{name} {os.fspath(model)!r} {where}: crossrank loads a bundle folder (crossrank "
                            "export), a local Hugging Face model folder or a Hub id ('org/name')")


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
