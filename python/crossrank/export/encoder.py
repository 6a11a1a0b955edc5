"""Exporting the bi-encoder behind DenseRetriever, and the encoder folder's format.

An encoder folder holds::

    model.onnx      fp32 feature-extraction graph (last_hidden_state), fused by ONNX Runtime's optimizer
    tokenizer.json  the model's tokenizer (read by crossrank's C++ WordPiece tokenizer)
    encoder.json    manifest: pooling, normalization, max_length, dimension, provenance, verification

Embeddings are mean-pooled over the attention mask and L2-normalised, as sentence-transformers'
all-MiniLM-L6-v2 (Transformer -> Pooling(mean) -> Normalize) does (:func:`pool_embeddings`, shared
with the runtime :class:`crossrank.retrieval.encoder.BiEncoder`). The export runs the same steps as
a bundle's (:mod:`crossrank.export.source`, :mod:`crossrank.export.onnx_steps`) and needs the
``[export]`` extra; this package imports nothing of crossrank.retrieval, which builds its default
encoder through :mod:`crossrank.default_model`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._folders import atomic_folder, check_replaceable
from crossrank.bundle import TOKENIZER_FILE, write_json
from crossrank.export.families import family_of
from crossrank.export.onnx_steps import export_versions, onnx_export, optimize
from crossrank.export.source import load_model, require_export_deps, write_tokenizer
from crossrank.tokenizer import Tokenizer

__all__ = ["ENCODER_MANIFEST", "FORMAT_VERSION", "MODEL_FILE", "export_encoder", "is_encoder", "pad_rows",
           "pool_embeddings"]

ENCODER_MANIFEST = "encoder.json"
MODEL_FILE = "model.onnx"
FORMAT_VERSION = 1
_VERIFY_FAIL = 1e-4
VERIFICATION_TEXTS = (
    "what is the capital of france",
    "Paris is the capital and most populous city of France.",
    "Crème brûlée — a rich custard base; naïve cooks über-torch it. 日本語のテキスト。",
    "",
    " ".join(["The quick brown fox jumps over the lazy dog."] * 40),
)


def is_encoder(path: str | os.PathLike[str]) -> bool:
    """Whether PATH is a folder with an encoder manifest (its contents are not checked)."""
    return (Path(path) / ENCODER_MANIFEST).is_file()


def pad_rows(rows: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask), int64, of token-id ROWS right-padded with PAD_ID."""
    width = max(len(r) for r in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        input_ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return input_ids, mask


def pool_embeddings(hidden: np.ndarray, mask: np.ndarray, pooling: str, normalize: bool) -> np.ndarray:
    """Sentence embeddings (float32) of HIDDEN states: mean over MASK or the CLS token, optionally L2-normalised."""
    if pooling == "cls":
        pooled = hidden[:, 0, :].astype(np.float32)
    else:
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    if normalize:
        pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(pooled, dtype=np.float32)


def _st_settings(src: Path) -> tuple[int | None, str, bool]:
    """(max_seq_length, pooling, normalize) from a sentence-transformers folder, with defaults."""
    max_length = None
    st_config = src / "sentence_bert_config.json"
    if st_config.is_file():
        max_length = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
    pooling, normalize = "mean", True
    modules = src / "modules.json"
    if modules.is_file():
        entries = json.loads(modules.read_text(encoding="utf-8"))
        types = [m.get("type", "") for m in entries]
        normalize = any(t.endswith(".Normalize") for t in types)
        for m in entries:
            if m.get("type", "").endswith(".Pooling"):
                cfg = json.loads((src / m["path"] / "config.json").read_text(encoding="utf-8"))
                if cfg.get("pooling_mode_cls_token"):
                    pooling = "cls"
                elif not cfg.get("pooling_mode_mean_tokens", True):
                    raise ValueError(f"{src}: only mean or CLS pooling is supported, got {cfg}")
    return max_length, pooling, normalize


def _load_config(src: Path):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(src, local_files_only=True)
    if family_of(config.model_type) is None:
        raise ValueError(f"{src}: model type {config.model_type!r} is not supported")
    return config


def _manifest(src: Path, config, settings: tuple[int | None, str, bool], max_length: int | None,
              tokenizer: dict[str, Any], optimization: dict[str, Any], source_name: str | None) -> dict[str, Any]:
    st_max, pooling, normalize = settings
    limit = int(getattr(config, "max_position_embeddings", 512))
    return {
        "format_version": FORMAT_VERSION,
        "pooling": pooling,
        "normalize": normalize,
        "max_length": int(min(max_length or st_max or limit, limit)),
        "dimension": int(config.hidden_size),
        "output": "last_hidden_state",
        "files": {"model": MODEL_FILE, "tokenizer": TOKENIZER_FILE},
        "source": {"model": source_name or str(src), "model_type": config.model_type,
                   "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   "versions": export_versions()},
        "tokenizer": tokenizer,
        "optimization": {k: optimization[k] for k in ("tool", "applied", "opt_level")},
    }


def export_encoder(model: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                   max_length: int | None = None, progress: bool = False, source_name: str | None = None) -> Path:
    """Export a Hugging Face / sentence-transformers encoder folder to an encoder folder.

    Needs the ``[export]`` extra. Pooling, normalization and max_length come from the
    sentence-transformers files when present (modules.json, 1_Pooling, sentence_bert_config.json).
    The result is checked against PyTorch (mean-pooled, normalised) and written atomically.

    Args:
        model: a local Hugging Face model folder.
        out_dir: the encoder folder; an existing encoder there is replaced, any other
            non-empty folder is refused.
        max_length: longest text in tokens (default: the model's own setting).
        progress: print a line when done.
        source_name: replaces the recorded source.

    Returns:
        OUT_DIR as an absolute path.

    Raises:
        FileNotFoundError: MODEL is not a Hugging Face model folder.
        FileExistsError: OUT_DIR holds something that is not an encoder.
        ValueError: an unsupported model type or pooling.
        RuntimeError: the exported graph disagrees with PyTorch.
    """
    src = Path(model).expanduser().resolve()
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} is not a Hugging Face model folder (no config.json)")
    check_replaceable(out_dir, ENCODER_MANIFEST, "encoder")  # before the slow steps
    require_export_deps()
    settings = _st_settings(src)
    config = _load_config(src)
    from transformers import AutoModel

    with atomic_folder(out_dir, ENCODER_MANIFEST, "encoder") as folder:
        tokenizer, _ = write_tokenizer(str(src), True, folder)
        hf_model = load_model(str(src), True, AutoModel)
        with tempfile.TemporaryDirectory(prefix="crossrank-encoder-") as work:
            raw = onnx_export(hf_model, Path(work), task="feature-extraction")
            optimization = optimize(raw, folder / MODEL_FILE, config)
        manifest = _manifest(src, config, settings, max_length, tokenizer, optimization, source_name)
        write_json(folder / ENCODER_MANIFEST, manifest)
        manifest["verification"] = _verify(hf_model, folder, manifest)
        write_json(folder / ENCODER_MANIFEST, manifest)
    out = Path(out_dir).expanduser().absolute()
    if progress:
        print(f"exported the bi-encoder to {out}", flush=True)
    return out


def _verify(hf_model, folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """ONNX embeddings vs PyTorch mean-pooled, normalised embeddings of the same token ids."""
    import onnxruntime as ort
    import torch

    tok = Tokenizer.from_file(folder / TOKENIZER_FILE)
    limit = int(manifest["max_length"]) - 2
    ids, mask = pad_rows([[*tok.native.prefix, *tok.encode(t)[:limit], *tok.native.middle[:1]]
                          for t in VERIFICATION_TEXTS], tok.pad_id)
    options = ort.SessionOptions()
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    session = ort.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    names = {i.name for i in session.get_inputs()}
    hidden = session.run([manifest["output"]], {k: v for k, v in feeds.items() if k in names})[0]
    with torch.inference_mode():
        ref_hidden = hf_model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy()
    pooling, normalize = manifest["pooling"], manifest["normalize"]
    diff = float(np.max(np.abs(pool_embeddings(hidden, mask, pooling, normalize)
                                - pool_embeddings(ref_hidden, mask, pooling, normalize))))
    if not diff <= _VERIFY_FAIL:
        raise RuntimeError(f"the exported encoder disagrees with PyTorch by {diff:.3g}; refusing to write it")
    return {"texts": len(VERIFICATION_TEXTS), "reference": "PyTorch fp32 (transformers), same tokens",
            "max_abs_diff": diff}
