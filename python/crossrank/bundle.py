"""A bundle: the folder a Reranker loads. This module owns its format, reading and writing.

A bundle folder holds::

    crossrank.json           manifest (MANIFEST_FILE): the model family, labels, activation, max_length, files,
                             the graph's limits (vocab_rows, max_positions), provenance,
                             measurements, checksums (checksums_sha256)
    model.onnx               fp32 graph (FP32_FILE)
    model.int8.onnx          int8 graph, dynamic activation scales (INT8_FILE)
    model.int8_static.onnx   int8 graph, static activation scales (INT8_STATIC_FILE; optional)
    model.int8_token.engine.onnx  int8 graph, a scale per token (INT8_TOKEN_FILE; optional): MatMuls on
                             crossrank's int8 GEMM, so only crossrank's engine runs it, on CPUs with AVX512-VNNI
    model.bf16.engine.onnx   bf16 graph (BF16_FILE; optional): MatMuls on crossrank's bf16 GEMM, so
                             only crossrank's engine runs it, on CPUs with AVX512-BF16
    model*.engine.onnx       the same graphs on crossrank's kernels (ENGINE_FILES)
    tokenizer.json           the tokenizer (TOKENIZER_FILE)
    report.json              the export's fidelity report (REPORT_FILE)

Only :class:`Bundle` reads a bundle; only :func:`write_manifest` and the export write one.
Loading checks what can be checked without running the model: every file entry stays inside the
folder, max_length fits the position embeddings, and (through :meth:`Bundle.verify_checksums`,
called by the Reranker on the files it reads) the files still match the SHA-256 sums of the export.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from crossrank import _native
from crossrank._onnx_graph import embedding_rows
from crossrank._validation import ACTIVATIONS, PRECISIONS

FORMAT_VERSION = 1
MANIFEST_FILE = "crossrank.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INT8_STATIC_FILE = "model.int8_static.onnx"
INT8_TOKEN_FILE = "model.int8_token.engine.onnx"
BF16_FILE = "model.bf16.engine.onnx"
TOKENIZER_FILE = "tokenizer.json"
REPORT_FILE = "report.json"
MODEL_FILES = {"fp32": FP32_FILE, "int8": INT8_FILE, "int8_static": INT8_STATIC_FILE, "int8_token": INT8_TOKEN_FILE,
               "bf16": BF16_FILE}
# Rungs only some CPUs run (they run on crossrank's own GEMMs): {precision: what the CPU needs}.
CPU_BOUND_PRECISIONS = {
    "int8_token": "AVX512-VNNI (Intel Cascade Lake and later, AMD Zen 4 and later)",
    "bf16": "AVX512-BF16 (AMD Zen 4 and later, Intel Cooper Lake, Sapphire Rapids and later)",
}
# The _native flag that says whether this build and CPU run each of them.
_KERNEL_FLAGS = {"int8_token": "INT8_TOKEN_KERNELS", "bf16": "BF16_KERNELS"}
# Graphs with attention, GELU and LayerNorm on crossrank's kernels (crossrank.export.engine_graph).
ENGINE_FILES = {"fp32": "model.engine.onnx", "int8": "model.int8.engine.onnx",
                "int8_static": "model.int8_static.engine.onnx"}
# Set to 0 to load bundles without checking checksums_sha256 (Reranker(..., verify_checksums=False) per load).
VERIFY_ENV = "CROSSRANK_VERIFY_CHECKSUMS"


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
    # The graph's limits, recorded by the export (None in bundles written before they were).
    vocab_rows: int | None = None  # rows of the token embedding: token ids must stay below
    max_positions: int | None = None  # longest sequence the position embeddings cover

    @property
    def family(self) -> str | None:
        """The model family (``family`` in the manifest: "bert", "xlm-roberta", "modernbert", "electra",
        ...; crossrank.export.families); for bundles written before it was recorded, the source's
        model_type; None where neither is there."""
        family = self.manifest.get("family")
        if family is None and isinstance(self.manifest.get("source"), dict):
            family = self.manifest["source"].get("model_type")
        return family if isinstance(family, str) else None

    @property
    def notes(self) -> list[str]:
        return list(self.manifest.get("notes", []))

    @property
    def checksums(self) -> dict[str, str]:
        """``checksums_sha256``: {file name in the bundle: hex SHA-256}; empty in older bundles."""
        return dict(self.manifest.get("checksums_sha256") or {})

    def model_file(self, precision: str) -> Path:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        path = self.model_files.get(precision)
        if path is None or not path.is_file():
            available = self.available_precisions()
            expected = f"expected {path}" if path is not None else f"its {MANIFEST_FILE} lists no files.{precision}"
            raise FileNotFoundError(
                f"bundle {self.path} has no {precision} model ({expected}); it has {', '.join(available) or 'none'}: "
                f"pass one of those as precision, or export the bundle again with a crossrank that makes {precision}")
        return path

    def runtime_model_file(self, precision: str) -> Path:
        """The graph the engine runs for PRECISION: its engine graph where the bundle has one
        (crossrank.export.engine_graph) and this CPU runs crossrank's AVX-512 kernels, else the standard
        graph (the kernels' portable fallbacks are slower than ONNX Runtime's own).

        Raises:
            ValueError: PRECISION is a CPU_BOUND_PRECISIONS rung this CPU cannot run (naming the bundle's other rungs).
        """
        if precision in CPU_BOUND_PRECISIONS and not runs_here(precision):
            others = [p for p in self.available_precisions() if runs_here(p)]
            raise ValueError(
                f"precision={precision!r} needs a CPU with {CPU_BOUND_PRECISIONS[precision]}, and this one has none; "
                f"use one of {', '.join(map(repr, others)) or 'none'} (what bundle {self.path} also has)")
        path = self.engine_files.get(precision)
        if path is None or not path.is_file() or _native.KERNELS != "avx512":
            return self.model_file(precision)
        return path

    def available_precisions(self) -> list[str]:
        """The rungs whose graph file the bundle holds, fastest first (whether this CPU runs them or not)."""
        return [p for p in PRECISIONS if p in self.model_files and self.model_files[p].is_file()]

    def precision_here(self) -> str:
        """default_precision, unless this CPU cannot run it (bf16 without AVX512-BF16, int8_token without
        AVX512-VNNI): then the fastest other rung the export's gate passed (precision_rungs), else fp32, with a RuntimeWarning."""
        chosen = self.default_precision
        if chosen not in CPU_BOUND_PRECISIONS or runs_here(chosen):
            return chosen
        rungs = {p: r for p, r in (self.manifest.get("precision_rungs") or {}).items() if isinstance(r, dict)}
        speedups = {p: rungs[p].get("speedup_vs_fp32") or 0.0 for p in self.available_precisions()
                    if runs_here(p) and p in rungs and rungs[p].get("passed")}
        fallback = max(speedups, key=speedups.get) if max(speedups.values(), default=0.0) > 1.0 else "fp32"
        warnings.warn(f"bundle {self.path}: its default precision {chosen!r} needs {CPU_BOUND_PRECISIONS[chosen]}, "
                      f"which this CPU lacks; using {fallback!r} (pass precision= to choose)", RuntimeWarning,
                      stacklevel=3)
        return fallback

    def verify_checksums(self, paths: Iterable[Path]) -> None:
        """Check each file of PATHS against ``checksums_sha256``.

        A file without an entry (an older bundle, a bundle still being exported, a graph outside
        the bundle's list) is not checked.

        Raises:
            ValueError: naming the first file whose SHA-256 differs from the manifest's.
        """
        expected = self.checksums
        for path in paths:
            try:
                name = Path(path).relative_to(self.path).as_posix()
            except ValueError:
                continue
            if name in expected and _cached_sha256(Path(path)) != expected[name]:
                raise ValueError(
                    f"{path} is corrupt: its SHA-256 differs from the one {MANIFEST_FILE} recorded at export "
                    f"(checksums_sha256[{name!r}]); export the bundle again, or load it with "
                    f"verify_checksums=False (or {VERIFY_ENV}=0) if you changed the file on purpose")

    def check_token_ids(self, max_token_id: int, graph: Path | None = None) -> None:
        """Raise ValueError if the tokenizer can produce ids past the graph's embedding rows.

        The rows are the manifest's vocab_rows; bundles exported before it was recorded are
        checked against the rows read from GRAPH's header (:func:`crossrank._onnx_graph.embedding_rows`),
        or not at all where the graph does not show them plainly.
        """
        rows, source = self.vocab_rows, f"vocab_rows in {self.path / MANIFEST_FILE}"
        if rows is None and graph is not None:
            rows, source = embedding_rows(graph), f"read from {graph}"
        if rows is not None and max_token_id >= rows:
            raise ValueError(
                f"{self.tokenizer_file} does not fit the model: it can produce token id {max_token_id}, but the "
                f"graph's token embedding has {rows} rows ({source}); use the tokenizer the model was exported with")

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        """Read and validate ``path/crossrank.json``."""
        root = Path(path)
        manifest = read_manifest(root)
        fields = _Fields(manifest, root / MANIFEST_FILE)
        files = fields.get("files", dict, {**MODEL_FILES, "tokenizer": TOKENIZER_FILE})
        labels = _labels(fields)
        max_length, vocab_rows, max_positions = _limits(fields)
        tokenizer_file = _bundle_file(root, files.get("tokenizer", TOKENIZER_FILE), "files.tokenizer")
        if not tokenizer_file.is_file():
            raise FileNotFoundError(f"bundle {root} has no tokenizer file {tokenizer_file.name}")
        model_files = {p: _bundle_file(root, files[p], f"files.{p}") for p in PRECISIONS if p in files}
        if not any(f.is_file() for f in model_files.values()):
            raise FileNotFoundError(f"bundle {root} holds no model file ({', '.join(map(str, files.values()))})")
        engine = fields.get("engine_files", dict, {})
        engine_files = {p: _bundle_file(root, engine[p], f"engine_files.{p}") for p in PRECISIONS if p in engine}
        _check_checksums_field(fields, root)
        fields.get("family", str, "")  # optional; a string where present
        return cls(path=root, max_length=max_length, **labels, model_files=model_files,
                   tokenizer_file=tokenizer_file, manifest=manifest, engine_files=engine_files,
                   vocab_rows=vocab_rows, max_positions=max_positions)


class _Fields:
    """Typed access to the manifest's fields, errors naming the manifest and the field."""

    def __init__(self, manifest: dict[str, Any], manifest_path: Path) -> None:
        self.manifest = manifest
        self.path = manifest_path

    def get(self, name: str, kind: type, default: Any = None) -> Any:
        value = self.manifest.get(name, default)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise ValueError(f"{self.path}: '{name}' must be {kind.__name__}, got {value!r}")
        return value

    def optional_int(self, name: str, minimum: int) -> int | None:
        value = self.manifest.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            raise self.error(f"'{name}' must be an int >= {minimum}, got {value!r}")
        return value

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.path}: {message}")


def _labels(fields: _Fields) -> dict[str, Any]:
    """num_labels, score_index, activation and default_precision, checked."""
    num_labels = fields.get("num_labels", int, 1)
    score_index = fields.get("score_index", int, 0)
    activation = fields.get("activation", str, "sigmoid" if num_labels == 1 else "softmax")
    default_precision = fields.get("default_precision", str, "int8")
    if num_labels < 1 or not 0 <= score_index < num_labels:
        raise fields.error(f"score_index {score_index} is not a label of {num_labels}")
    if activation not in ACTIVATIONS:
        raise fields.error(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if default_precision not in PRECISIONS:
        raise fields.error(f"default_precision must be one of {PRECISIONS}")
    return dict(num_labels=num_labels, score_index=score_index, activation=activation,
                default_precision=default_precision)


def _limits(fields: _Fields) -> tuple[int, int | None, int | None]:
    """(max_length, vocab_rows, max_positions); max_length checked against the graph's positions.

    Bundles written before max_positions was recorded are checked against the source model's
    max_position_embeddings where the manifest has it.
    """
    max_length = fields.get("max_length", int, 512)
    vocab_rows = fields.optional_int("vocab_rows", 1)
    max_positions = fields.optional_int("max_positions", 4)
    if max_length < 4:
        raise fields.error(f"max_length must be at least 4, got {max_length}")
    source = fields.manifest.get("source")
    positions = max_positions
    if positions is None and isinstance(source, dict):
        recorded = source.get("max_position_embeddings")
        positions = recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else None
    if positions is not None and max_length > positions:
        raise fields.error(f"max_length {max_length} exceeds the {positions} positions the model's position "
                           "embeddings cover; lower max_length to at most that")
    return max_length, vocab_rows, max_positions


def _bundle_file(root: Path, name: object, entry: str) -> Path:
    """ROOT / NAME, where NAME (the manifest's ENTRY) must stay inside the bundle folder ROOT.

    Raises:
        ValueError: naming ENTRY when NAME is not a relative path, climbs with '..', or is a
            symlink (or under one) that leads out of ROOT.
    """
    manifest_path = root / MANIFEST_FILE
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{manifest_path}: {entry} must be a file name, got {name!r}")
    relative = PurePosixPath(name)
    if relative.is_absolute() or PureWindowsPath(name).is_absolute() or ".." in relative.parts:
        raise ValueError(f"{manifest_path}: {entry} is {name!r}; bundle files must be relative paths inside "
                         "the bundle folder (no absolute path, no '..')")
    path = root / relative
    if not path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"{manifest_path}: {entry} is {name!r}, which leads out of the bundle folder "
                         f"(to {path.resolve()}); bundle files must lie inside it")
    return path


def _check_checksums_field(fields: _Fields, root: Path) -> None:
    """checksums_sha256 must map names of files inside ROOT to 64-digit hex strings."""
    value = fields.get("checksums_sha256", dict, {})
    for name, digest in value.items():
        _bundle_file(root, name, f"checksums_sha256[{name!r}]")
        if not isinstance(digest, str) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise fields.error(f"checksums_sha256[{name!r}] must be a 64-digit lowercase hex SHA-256, got {digest!r}")


def checksums_wanted(verify: bool | None) -> bool:
    """Whether to verify checksums: VERIFY when given, else ``$CROSSRANK_VERIFY_CHECKSUMS`` (default on).

    Raises:
        ValueError: VERIFY is not a bool or None, or the environment variable is not 0/1/true/false/yes/no.
    """
    if verify is not None:
        if not isinstance(verify, bool):
            raise ValueError(f"verify_checksums must be True, False or None, got {verify!r}")
        return verify
    value = os.environ.get(VERIFY_ENV, "").strip().lower()
    if value in ("", "1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{VERIFY_ENV} must be 0 or 1 (or true/false), got {value!r}")


def runs_here(precision: str) -> bool:
    """Whether this CPU runs PRECISION (False only for a CPU_BOUND_PRECISIONS rung it lacks the instructions of)."""
    return precision not in CPU_BOUND_PRECISIONS or bool(getattr(_native, _KERNEL_FLAGS[precision]))


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


# Files hashed in this process: (resolved path, size, mtime_ns, inode) -> SHA-256. A Reranker
# loaded again on an unchanged file (tests, the export's gate, several workers) does not hash it again.
_HASHED: dict[tuple[str, int, int, int], str] = {}


def _cached_sha256(path: Path) -> str:
    """sha256_file(PATH), remembered while the file's size, mtime and inode stay the same."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _HASHED:
        _HASHED[key] = sha256_file(path)
    return _HASHED[key]


def checksums(folder: str | os.PathLike[str], names: Iterable[str]) -> dict[str, str]:
    """``{name: sha256}`` of the files NAMES in FOLDER (the manifest's ``checksums_sha256``)."""
    return {name: sha256_file(Path(folder) / name) for name in names}
