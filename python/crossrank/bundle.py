"""A bundle: the folder a Reranker loads. This module owns its format, reading and writing.

A bundle folder holds::

    crossrank.json           manifest (MANIFEST_FILE): labels, activation, max_length, files,
                             provenance, measurements, checksums
    model.onnx               fp32 graph (FP32_FILE)
    model.int8.onnx          int8 graph (INT8_FILE)
    model*.engine.onnx       the same graphs on crossrank's kernels (ENGINE_FILES)
    tokenizer.json           the tokenizer (TOKENIZER_FILE)
    report.json              the export's fidelity report (REPORT_FILE)

Only :class:`Bundle` reads a bundle; only :func:`write_manifest` and the export write one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossrank import _native
from crossrank._validation import ACTIVATIONS, PRECISIONS

FORMAT_VERSION = 1
MANIFEST_FILE = "crossrank.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
REPORT_FILE = "report.json"
MODEL_FILES = {"fp32": FP32_FILE, "int8": INT8_FILE}
# Graphs with attention, GELU and LayerNorm on crossrank's kernels (crossrank.export.engine_graph).
ENGINE_FILES = {"fp32": "model.engine.onnx", "int8": "model.int8.engine.onnx"}


@dataclass(frozen=True)
class Bundle:
    """What crossrank.json says about a bundle, with paths resolved and checked."""

    path: Path
    max_length: int
    num_labels: int
    score_index: int
    activation: str
    default_precision: str
    model_files: dict[str, Path]
    tokenizer_file: Path
    manifest: dict[str, Any] = field(repr=False)
    # Per precision, the graph with attention, GELU and LayerNorm on crossrank's kernels
    # (crossrank.export.engine_graph).
    engine_files: dict[str, Path] = field(default_factory=dict)

    @property
    def notes(self) -> list[str]:
        return list(self.manifest.get("notes", []))

    def model_file(self, precision: str) -> Path:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        path = self.model_files.get(precision)
        if path is None or not path.is_file():
            raise FileNotFoundError(f"bundle {self.path} has no {precision} model (expected {path})")
        return path

    def runtime_model_file(self, precision: str) -> Path:
        """The graph the engine runs for PRECISION: its engine graph where the bundle has one
        (crossrank.export.engine_graph) and this CPU runs crossrank's AVX-512 kernels, else the standard
        graph (the kernels' portable fallbacks are slower than ONNX Runtime's own)."""
        path = self.engine_files.get(precision)
        if path is None or not path.is_file() or _native.KERNELS != "avx512":
            return self.model_file(precision)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        """Read and validate ``path/crossrank.json``."""
        root = Path(path)
        manifest = read_manifest(root)
        manifest_path = root / MANIFEST_FILE

        def field_of(name: str, kind: type, default: Any = None) -> Any:
            value = manifest.get(name, default)
            if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
                raise ValueError(f"{manifest_path}: '{name}' must be {kind.__name__}, got {value!r}")
            return value

        files = field_of("files", dict, {**MODEL_FILES, "tokenizer": TOKENIZER_FILE})
        max_length = field_of("max_length", int, 512)
        num_labels = field_of("num_labels", int, 1)
        score_index = field_of("score_index", int, 0)
        activation = field_of("activation", str, "sigmoid" if num_labels == 1 else "softmax")
        default_precision = field_of("default_precision", str, "int8")
        if max_length < 4:
            raise ValueError(f"{manifest_path}: max_length must be at least 4, got {max_length}")
        if num_labels < 1 or not 0 <= score_index < num_labels:
            raise ValueError(f"{manifest_path}: score_index {score_index} is not a label of {num_labels}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"{manifest_path}: activation must be one of {ACTIVATIONS}, got {activation!r}")
        if default_precision not in PRECISIONS:
            raise ValueError(f"{manifest_path}: default_precision must be one of {PRECISIONS}")
        tokenizer_file = root / str(files.get("tokenizer", TOKENIZER_FILE))
        if not tokenizer_file.is_file():
            raise FileNotFoundError(f"bundle {root} has no tokenizer file {tokenizer_file.name}")
        model_files = {p: root / str(files[p]) for p in PRECISIONS if p in files}
        if not any(f.is_file() for f in model_files.values()):
            raise FileNotFoundError(f"bundle {root} holds no model file ({', '.join(map(str, files.values()))})")
        engine = field_of("engine_files", dict, {})
        engine_files = {p: root / str(engine[p]) for p in PRECISIONS if p in engine}
        return cls(path=root, max_length=max_length, num_labels=num_labels, score_index=score_index,
                   activation=activation, default_precision=default_precision,
                   model_files=model_files, tokenizer_file=tokenizer_file, manifest=manifest,
                   engine_files=engine_files)


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """Whether PATH is a folder with a bundle manifest (its contents are not checked)."""
    return (Path(path) / MANIFEST_FILE).is_file()


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``crossrank.json`` of the bundle folder PATH.

    Raises:
        FileNotFoundError: PATH is not a folder, or holds no manifest.
        ValueError: the manifest is not a JSON object.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"bundle folder not found: {root}")
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{root} is not a crossrank bundle: no {MANIFEST_FILE} (create one with `crossrank export`)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{manifest_path} is not valid JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{manifest_path} must hold a JSON object")
    return manifest


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """DATA as indented UTF-8 JSON with a final newline (the style of every file crossrank writes)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
        f.write("\n")


def write_manifest(folder: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Write the dict MANIFEST as FOLDER's ``crossrank.json``."""
    write_json(Path(folder) / MANIFEST_FILE, manifest)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksums(folder: str | os.PathLike[str], names: Iterable[str]) -> dict[str, str]:
    """``{name: sha256}`` of the files NAMES in FOLDER (the manifest's ``checksums_sha256``)."""
    return {name: sha256_file(Path(folder) / name) for name in names}
