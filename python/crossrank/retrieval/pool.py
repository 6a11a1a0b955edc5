"""Candidate pools between stage one and stage two: cap, deduplicate, pre-tokenized documents, recall."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crossrank._validation import check_positive_int
from crossrank.retrieval.corpus import Corpus, DocId

__all__ = ["DEDUPE_MODES", "CandidatePool", "TokenStore", "build_pool", "pool_recall", "text_keys"]

DEDUPE_MODES = (None, "id", "text")


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """One int per text; equal ints for texts equal up to case and runs of whitespace."""
    seen: dict[str, int] = {}
    return np.fromiter((seen.setdefault(" ".join(t.split()).casefold(), len(seen)) for t in texts),
                       dtype=np.int64, count=len(texts))


@dataclass(frozen=True)
class CandidatePool:
    """Stage-one candidates handed to the reranker: corpus indices and stage-one scores, best first.

    ``dropped`` counts candidates removed as duplicates; ``capped`` those cut by the size cap.
    """

    indices: np.ndarray
    scores: np.ndarray
    dropped: int = 0
    capped: int = 0
    corpus: Corpus | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.indices.size)

    @property
    def ids(self) -> list[DocId]:
        if self.corpus is None:
            raise ValueError("this pool was built without its corpus")
        return [self.corpus.ids[i] for i in self.indices]

    def recall(self, relevant: Collection[DocId] | Mapping[DocId, float]) -> float:
        """Share of the relevant documents that made it into the pool (see :func:`pool_recall`)."""
        return pool_recall(self.ids, relevant)


def pool_recall(pool_ids: Collection[DocId], relevant: Collection[DocId] | Mapping[DocId, float]) -> float:
    """Fraction of relevant documents present in ``pool_ids``.

    ``relevant``: ids, or judgements ``{id: grade}`` (grades > 0 count as relevant, as in
    trec_eval). Returns NaN when nothing is relevant.
    """
    if isinstance(relevant, Mapping):
        relevant = [d for d, g in relevant.items() if g > 0]
    relevant = set(relevant)
    if not relevant:
        return float("nan")
    return len(relevant.intersection(pool_ids)) / len(relevant)


def build_pool(indices, scores, *, cap: int | None, dedupe: str | None = "id",
               corpus: Corpus | None = None, keys: np.ndarray | None = None) -> CandidatePool:
    """A pool from stage-one output (best first): duplicates dropped, then capped at ``cap``.

    ``dedupe``: None, ``"id"`` (same corpus document listed twice: keep its first, best, entry) or
    ``"text"`` (different documents with the same text, up to case and whitespace: keep the best
    one). Text dedupe needs ``keys`` (from :func:`text_keys` over the corpus) or ``corpus``.
    """
    if dedupe not in DEDUPE_MODES:
        raise ValueError(f"dedupe must be one of {DEDUPE_MODES}, got {dedupe!r}")
    cap = check_positive_int(cap, "cap", allow_none=True)
    indices = np.asarray(indices, dtype=np.int64)
    scores = np.asarray(scores)
    if indices.shape != scores.shape or indices.ndim != 1:
        raise ValueError(f"indices {indices.shape} and scores {scores.shape} must be 1-D and of the same length")
    before = indices.size
    if dedupe is not None and before:
        if dedupe == "id":
            group = indices
        else:
            if keys is None:
                if corpus is None:
                    raise ValueError("dedupe='text' needs the corpus or its text keys")
                keys = text_keys(corpus.texts)
            group = keys[indices]
        _, first = np.unique(group, return_index=True)
        first.sort()
        indices, scores = indices[first], scores[first]
    dropped = before - indices.size
    capped = 0
    if cap is not None and indices.size > cap:
        capped = indices.size - int(cap)
        indices, scores = indices[:cap], scores[:cap]
    return CandidatePool(indices, scores, dropped, capped, corpus)


class TokenStore:
    """Documents' token ids, computed once at index time (``Reranker.encode_documents``).

    Stored flat (int32 tokens + int64 offsets); :meth:`get` hands lists to
    ``Reranker.score_token_ids`` so that a query only tokenizes itself. ``tokenizer`` is a digest
    of the tokenizer.json that produced the ids; loading checks it against the reranker's.
    """

    FILE = "tokens.npz"

    def __init__(self, tokens: np.ndarray, offsets: np.ndarray, tokenizer: str) -> None:
        self.tokens = tokens
        self.offsets = offsets
        self.tokenizer = tokenizer

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    @staticmethod
    def digest(reranker) -> str:
        return hashlib.sha256(Path(reranker.bundle.tokenizer_file).read_bytes()).hexdigest()

    @classmethod
    def build(cls, reranker, texts: Sequence[str], *, chunk: int = 4096) -> TokenStore:
        lengths, parts = [], []
        for start in range(0, len(texts), chunk):
            for ids in reranker.encode_documents(texts[start:start + chunk]):
                lengths.append(len(ids))
                parts.append(np.asarray(ids, dtype=np.int32))
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        tokens = np.concatenate(parts) if parts else np.empty(0, np.int32)
        return cls(tokens, offsets, cls.digest(reranker))

    def get(self, indices) -> list[list[int]]:
        o = self.offsets
        return [self.tokens[o[i]:o[i + 1]].tolist() for i in indices]

    def save(self, folder: str | os.PathLike[str]) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / self.FILE, tokens=self.tokens, offsets=self.offsets)
        (folder / "tokens.json").write_text(json.dumps({"tokenizer_sha256": self.tokenizer}) + "\n",
                                            encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str], reranker=None) -> TokenStore:
        folder = Path(folder)
        meta = json.loads((folder / "tokens.json").read_text(encoding="utf-8"))
        if reranker is not None and meta["tokenizer_sha256"] != cls.digest(reranker):
            raise ValueError(f"{folder} was tokenized with another tokenizer than {reranker!r}'s; rebuild it")
        with np.load(folder / cls.FILE) as data:
            return cls(data["tokens"], data["offsets"], meta["tokenizer_sha256"])
