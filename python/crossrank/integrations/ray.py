"""Ray: score millions of pairs with Ray Data, or across a cluster from ``crossrank score --ray``.

```python
import ray, crossrank.integrations.ray as crr
ds = ray.data.read_parquet("pairs.parquet")                     # columns: query, document (+ any ids)
scored = ds.map_batches(crr.Scorer, fn_constructor_kwargs={"bundle": "path/to/bundle"},
                        compute=ray.data.ActorPoolStrategy(size=4), batch_size=1024)  # adds "score"
```

Each worker builds its :class:`~crossrank.reranker.Reranker` once, in ``__init__``: only the bundle path
and options travel to it (native handles are never pickled), and its threads default to the CPUs Ray
gave the worker. Inside a batch the engine's length-bucketed planner does the batching. Ray is
imported only by the functions that need it (``pip install 'crossrank[ray]'``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._system import physical_core_count
from crossrank._validation import check_column_texts
from crossrank.batch.runner import ChunkScorer
from crossrank.reranker import Reranker

RAY_HINT = "pip install 'crossrank[ray]'"
# Reranker keywords a Scorer passes through; the rest of its keywords go to score_pairs.
_RERANKER_OPTIONS = ("precision", "max_length", "truncation", "activation", "concurrent_batches",
                     "max_padded_tokens", "max_batch_size", "verify_checksums")


def _ray():
    try:
        import ray
    except ImportError:
        raise ImportError(f"crossrank.integrations.ray needs Ray: {RAY_HINT}") from None
    return ray


def worker_threads() -> int:
    """Intra-op threads for this process: the CPUs Ray assigned it inside a Ray worker, else the
    machine's physical cores."""
    try:
        import ray

        if ray.is_initialized():
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            if cpus:
                return max(1, int(cpus))
    except ImportError:
        pass
    return physical_core_count()


def _row_name(batch: Any, index: int) -> str:
    """'batch row 3 (doc_id=7, query_id=2)': the row's position and any id columns it has."""
    ids = [f"{name}={batch[name][index]!r}" for name in _columns(batch) if "id" in str(name).lower()][:3]
    return f"batch row {index}" + (f" ({', '.join(ids)})" if ids else "")


def _columns(batch: Any) -> list[str]:
    return list(batch.column_names if hasattr(batch, "column_names") else batch.keys())


class Scorer:
    """A callable class for ``Dataset.map_batches``: adds ``score_column`` to each batch.

    Args:
        bundle: the bundle folder (a path: it travels to the worker, the model does not).
        threads: intra-op threads per worker (default: the CPUs Ray assigned the worker, which
            ``map_batches(..., num_cpus=N)`` sets).
        query_column / document_column: the batch's text columns; score_column: the one added.
        **options: Reranker options (precision, max_length, truncation, activation, ...) and
            score_pairs options (long_documents, window, stride, max_windows, max_tokens_per_doc).

    Batches may be Ray's default dict of NumPy arrays, a pandas DataFrame or a pyarrow Table; the
    answer has the same type.
    """

    def __init__(self, bundle: str | Path, *, threads: int | None = None, query_column: str = "query",
                 document_column: str = "document", score_column: str = "score", **options: Any) -> None:
        reranker_options = {k: options.pop(k) for k in _RERANKER_OPTIONS if k in options}
        self.reranker = Reranker(bundle, threads=threads or worker_threads(), **reranker_options)
        self.score_options = options
        self.query_column = query_column
        self.document_column = document_column
        self.score_column = score_column

    def _texts(self, batch: Any, column: str) -> list[str]:
        if column not in _columns(batch):
            raise ValueError(f"the batch has no column {column!r} (found {', '.join(map(repr, _columns(batch)))}); "
                             f"pass query_column= / document_column= to Scorer")
        values = batch[column]
        values = values.to_pylist() if hasattr(values, "to_pylist") else list(values)
        return check_column_texts(values, column, lambda i: _row_name(batch, i))

    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
        """float32 scores of the pairs (queries[i], documents[i])."""
        return self.reranker.score_pairs(list(zip(queries, documents)), show_progress=False, **self.score_options)

    def __call__(self, batch: Any) -> Any:
        scores = self.score(self._texts(batch, self.query_column), self._texts(batch, self.document_column))
        if hasattr(batch, "append_column"):  # pyarrow.Table
            import pyarrow

            return batch.append_column(self.score_column, pyarrow.array(scores, type=pyarrow.float32()))
        if hasattr(batch, "assign"):  # pandas.DataFrame
            return batch.assign(**{self.score_column: scores})
        out = dict(batch)
        out[self.score_column] = scores
        return out


class _ScoreActor:
    """A Ray actor holding one Scorer (``crossrank score --ray``)."""

    def __init__(self, bundle: str, threads: int, options: dict[str, Any]) -> None:
        self.scorer = Scorer(bundle, threads=threads, **options)

    def score(self, queries: list[str], documents: list[str]) -> np.ndarray:
        return self.scorer.score(queries, documents)


def ray_chunk_scorer(bundle: str | Path, *, address: str | None = None, workers: int = 2, threads: int = 1,
                     batch_rows: int = 1024, options: dict[str, Any] | None = None) -> ChunkScorer:
    """A ChunkScorer (see :mod:`crossrank.batch.runner`) that splits each chunk into batches of
    BATCH_ROWS and scores them on WORKERS Ray actors of THREADS CPUs each, in order.

    Args:
        bundle: the bundle folder (each actor loads it once).
        address: the Ray cluster to join (None: start a local one, or join RAY_ADDRESS).
        workers: actors; threads: CPUs (and intra-op threads) per actor.
        batch_rows: pairs per task.
        options: Scorer options (Reranker and score_pairs keywords).

    A killed actor is restarted and its tasks retried (Ray's max_restarts / max_task_retries), so no
    row is lost; ActorPool.map returns results in submission order, so none is reordered.
    """
    ray = _ray()
    from ray.util import ActorPool

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    actor = ray.remote(_ScoreActor).options(num_cpus=threads, max_restarts=3, max_task_retries=3)
    pool = ActorPool([actor.remote(str(Path(bundle).resolve()), threads, dict(options or {}))
                      for _ in range(workers)])

    def score(queries: list[str], documents: list[str], first_row: int) -> np.ndarray:
        batches = [(queries[i:i + batch_rows], documents[i:i + batch_rows]) for i in range(0, len(queries), batch_rows)]
        parts = list(pool.map(lambda a, batch: a.score.remote(*batch), batches))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)

    return score
