"""What an engine of ``crossrank bench`` is, and the two engines that are not peers.

An engine factory takes a bundle and a thread count and returns an :class:`Engine`:
``score(query, docs)`` scores one pool; ``padding(lengths)`` gives the share of executed tokens
that were padding in the last call, given the pool's pair lengths in arrival order.

- ``crossrank-int8/fp32``: this package's :class:`~crossrank.reranker.Reranker`;
- ``ort-naive-int8/fp32``: tokenizers + onnxruntime, batches of 32 in arrival order: what most
  users write.

The optional peers (sentence-transformers, FlashRank, FastEmbed) are in
:mod:`crossrank.benchmark.peers`; :mod:`crossrank.benchmark.registry` names them all.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

from crossrank.bundle import CPU_BOUND_PRECISIONS, Bundle, runs_here
from crossrank.reranker import Reranker, TruncationWarning

ScoreFn = Callable[[str, list[str]], object]
"""Scores one pool: ``score(query, docs)``."""
PaddingFn = Callable[[list[int]], "float | None"]
"""Share of executed tokens that were padding in the last call, given the pool's pair lengths."""


class Engine(NamedTuple):
    """A loaded engine: unpacks as ``score, padding = engine`` (a plain tuple of the two serves too)."""

    score: ScoreFn
    padding: PaddingFn


EngineFactory = Callable[[Bundle, int], Engine]
"""Loads an engine for a bundle with a thread count: ``factory(bundle, threads)``."""


def padding_share(lengths: list[int], batch_size: int, order: list[int] | None = None) -> float:
    """Share of executed tokens that are padding when pairs are batched and padded.

    Args:
        lengths: tokens of each pair, in arrival order.
        batch_size: pairs per batch; each batch is padded to its longest pair.
        order: the order in which the pairs are batched (default: as given).

    Returns:
        The padding share of all executed tokens, 0.0 for no pairs.
    """
    ordered = [lengths[i] for i in order] if order is not None else list(lengths)
    executed = sum(len(batch) * max(batch) for batch in
                   (ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)))
    return 1.0 - sum(ordered) / executed if executed else 0.0


class RungUnavailable(RuntimeError):
    """The bundle has no graph for the engine's precision, or this CPU cannot run it (the message says which)."""


def crossrank_engine(bundle: Bundle, precision: str, threads: int) -> Engine:
    """This package's Reranker on BUNDLE at PRECISION; it reports its own padding.

    Raises:
        RungUnavailable: the bundle has no PRECISION, or this CPU lacks its instructions (the
            benchmark skips the engine and says why).
    """
    if precision not in bundle.available_precisions():
        raise RungUnavailable(f"bundle {bundle.path} has no {precision} rung")
    if not runs_here(precision):
        raise RungUnavailable(f"{precision} needs {CPU_BOUND_PRECISIONS[precision]}, which this CPU lacks")
    reranker = Reranker(bundle, precision=precision, threads=threads)

    def score(query: str, docs: list[str]) -> object:
        # Over-long pairs are truncated by every engine alike; the CLI reports them once.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            return reranker.score_pairs([(query, doc) for doc in docs], show_progress=False)

    return Engine(score, lambda _lengths: reranker.last_stats.padding_fraction)


def ort_naive_engine(bundle: Bundle, precision: str, threads: int) -> Engine:
    """What most users write: tokenizers + onnxruntime, batches of 32 in arrival order."""
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer as HFTokenizer

    tokenizer = HFTokenizer.from_file(str(bundle.tokenizer_file))
    tokenizer.enable_truncation(bundle.max_length, strategy="longest_first")
    tokenizer.enable_padding()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(bundle.model_file(precision)), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}

    def score(query: str, docs: list[str]) -> object:
        out = []
        for start in range(0, len(docs), 32):
            encodings = tokenizer.encode_batch([(query, doc) for doc in docs[start:start + 32]])
            feed = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
            out.append(session.run(None, feed)[0])
        return np.concatenate(out)

    return Engine(score, lambda lengths: padding_share(lengths, 32))


OWN_ENGINES: dict[str, EngineFactory] = {
    "crossrank-int8": lambda b, t: crossrank_engine(b, "int8", t),
    "crossrank-fp32": lambda b, t: crossrank_engine(b, "fp32", t),
    "crossrank-int8-static": lambda b, t: crossrank_engine(b, "int8_static", t),
    "crossrank-int8-token": lambda b, t: crossrank_engine(b, "int8_token", t),
    "crossrank-bf16": lambda b, t: crossrank_engine(b, "bf16", t),
    "ort-naive-int8": lambda b, t: ort_naive_engine(b, "int8", t),
    "ort-naive-fp32": lambda b, t: ort_naive_engine(b, "fp32", t),
}
"""The engines that need no optional package: crossrank and the plain onnxruntime loop."""
