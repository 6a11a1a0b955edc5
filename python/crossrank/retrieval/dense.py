"""Dense stage one: bi-encoder embeddings searched exactly with :func:`exact_topk`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.default_model import default_encoder_dir
from crossrank.retrieval.base import Retriever
from crossrank.retrieval.corpus import Corpus
from crossrank.retrieval.encoder import BiEncoder
from crossrank.retrieval.topk import exact_topk

__all__ = ["DenseRetriever"]

EMBEDDINGS_FILE = "embeddings.npy"


def _encoder(encoder: BiEncoder | str | os.PathLike[str] | None) -> BiEncoder:
    if isinstance(encoder, BiEncoder):
        return encoder
    return BiEncoder(encoder)


class DenseRetriever(Retriever):
    """Cosine similarity between bi-encoder embeddings (exact search, no approximation).

    Build with :meth:`build`; the default encoder is all-MiniLM-L6-v2 (see
    :mod:`crossrank.retrieval.encoder`). Document embeddings are computed once at build time and
    saved with the index; a query costs one encoder call and one :func:`exact_topk`.
    """

    kind = "dense"

    def __init__(self, corpus: Corpus, embeddings: np.ndarray, encoder: BiEncoder) -> None:
        if embeddings.ndim != 2 or embeddings.shape != (len(corpus), encoder.dimension):
            raise ValueError(f"embeddings have shape {embeddings.shape}, expected ({len(corpus)}, {encoder.dimension})")
        self.corpus = corpus
        self.embeddings = embeddings
        self.encoder = encoder

    def __repr__(self) -> str:
        return f"DenseRetriever({len(self.corpus)} documents, {self.encoder!r})"

    @classmethod
    def build(cls, documents, *, encoder: BiEncoder | str | os.PathLike[str] | None = None,
              show_progress: bool = False) -> DenseRetriever:
        """Embed ``documents`` (strings, ``(id, text)`` pairs or a ``{id: text}`` mapping).

        ``encoder``: a :class:`BiEncoder`, an encoder folder, or None for the embedded default.
        """
        corpus = Corpus.from_documents(documents)
        enc = _encoder(encoder)
        return cls(corpus, enc.encode(corpus.texts, show_progress=show_progress), enc)

    def _retrieve(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        return exact_topk(self.encoder.encode_query(query), self.embeddings, k, check_finite=False)

    def _retrieve_many(self, queries: Sequence[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        idx, vals = exact_topk(self.encoder.encode(list(queries)), self.embeddings, k, check_finite=False)
        return list(zip(idx, vals))

    def _save(self, folder: Path) -> dict[str, Any]:
        np.save(folder / EMBEDDINGS_FILE, self.embeddings)
        enc_folder = self.encoder.folder.absolute()
        is_default = enc_folder == default_encoder_dir().absolute()
        return {"encoder": None if is_default else str(enc_folder), "dimension": self.encoder.dimension,
                "encoder_source": self.encoder.manifest.get("source", {}).get("model")}

    @classmethod
    def _load(cls, folder: Path, params: dict[str, Any], encoder: BiEncoder | str | None = None,
              mmap: bool = False) -> DenseRetriever:
        """``encoder`` overrides the one recorded at save time; ``mmap`` maps the embeddings."""
        enc = _encoder(encoder if encoder is not None else params.get("encoder"))
        if enc.dimension != params["dimension"]:
            raise ValueError(f"the encoder makes {enc.dimension}-d embeddings, the index holds {params['dimension']}-d")
        embeddings = np.load(folder / EMBEDDINGS_FILE, mmap_mode="r" if mmap else None)
        return cls(Corpus.load(folder), embeddings, enc)
