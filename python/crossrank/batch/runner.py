"""``crossrank score``'s work: a pair file scored chunk by chunk, resumable, in input order.

Each chunk's rows and scores are written as one file into ``OUT.partial/`` (write beside, rename into
place), so a run that is killed loses at most the chunk in flight. Run again with the same input and
settings, it skips the chunks already there; at the end the chunks are joined into OUT in input order
and the folder is removed. Nothing is reordered or dropped: every row of the input is one row of OUT.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossrank._validation import check_column_texts
from crossrank.batch.formats import Chunk, count_rows, join_chunks, read_chunks, tsv_header, write_chunk
from crossrank.reranker import Reranker

# Scores (float32, one per pair) of a chunk's (queries, documents); the first row's index names bad rows.
ChunkScorer = Callable[[list[str], list[str], int], np.ndarray]
STATE_FILE = "state.json"


@dataclass(frozen=True)
class ScoreFileJob:
    """What to score and where.

    Attributes:
        source: the pair file.
        out: the scored file to write (must not exist yet).
        source_format / out_format: "parquet", "jsonl" or "tsv".
        chunk_rows: rows per chunk: the unit of progress, of resuming and of memory.
        query_column / document_column: the input's columns; score_column: the one added.
        settings: what else decides the scores (bundle, precision, long-document options); a partial
            run is only resumed when they are equal.
    """

    source: Path
    out: Path
    source_format: str
    out_format: str
    chunk_rows: int = 10_000
    query_column: str = "query"
    document_column: str = "document"
    score_column: str = "score"
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> Path:
        """The folder the chunks go to until the run is complete."""
        return self.out.with_name(self.out.name + ".partial")

    def state(self) -> dict[str, Any]:
        """What a partial run must match to be resumed."""
        stat = self.source.stat()
        return {"source": str(self.source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "chunk_rows": self.chunk_rows, "columns": [self.query_column, self.document_column,
                                                           self.score_column],
                "out_format": self.out_format, "settings": self.settings}


@dataclass
class ScoreFileResult:
    """What a run did: rows in the output, rows scored now, rows already scored by an earlier run."""

    out: Path
    rows: int
    scored_now: int
    resumed_rows: int


def texts(chunk: Chunk, column: str, source: Path) -> list[str]:
    """COLUMN of CHUNK as a list of str; ValueError naming the first row that is not text."""
    if column not in chunk.columns:
        raise ValueError(f"{source}: no column {column!r} (found {', '.join(map(repr, chunk.columns))}); "
                         f"name yours with --query-column / --document-column")
    return check_column_texts(chunk.columns[column], column, lambda i: f"{source} row {chunk.first_row + i}")


def _open_partial(job: ScoreFileJob, restart: bool) -> int:
    """Make the partial folder ready; return how many chunks an earlier run already wrote."""
    folder = job.partial
    state = job.state()
    if folder.exists():
        saved = _read_state(folder)
        if restart or saved is None:
            shutil.rmtree(folder)
        elif saved != state:
            changed = [key for key in state if saved.get(key) != state[key]]
            raise ValueError(f"{folder} holds a partial run with other {', '.join(changed)}; run with the same "
                             "input and options to resume it, or pass --restart to discard it")
    if not folder.exists():
        folder.mkdir(parents=True)
        (folder / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        return 0
    done = 0
    while _part(job, done).exists():
        done += 1
    return done


def _read_state(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _part(job: ScoreFileJob, index: int) -> Path:
    return job.partial / f"part-{index:06d}.{job.out_format}"


def score_file(job: ScoreFileJob, scorer: ChunkScorer, *, restart: bool = False,
               progress: bool | None = None, log: Callable[[str], None] | None = None) -> ScoreFileResult:
    """Score every row of JOB.source with SCORER into JOB.out (see the module docstring).

    Args:
        job: the files and columns.
        scorer: scores one chunk's pairs.
        restart: discard a partial run instead of resuming it.
        progress: a tqdm bar with pairs/s (None: when stderr is a terminal).
        log: where to say what happens (resuming, writing); None: nowhere.

    Raises:
        FileExistsError: when JOB.out exists.
        ValueError: a missing column, a row without text (named by its index), a partial run made with
            other settings, an empty input.
    """
    say = log or (lambda message: None)
    if job.out.exists():
        raise FileExistsError(f"{job.out} exists; remove it or choose another --out")
    total = count_rows(job.source, job.source_format)
    if total == 0:
        raise ValueError(f"{job.source}: no rows to score")
    done = _open_partial(job, restart)
    resumed = min(done * job.chunk_rows, total)
    if done:
        say(f"resuming: {resumed:,} of {total:,} rows already scored in {job.partial}")
    bar = _progress_bar(total, resumed, progress)
    header = None
    try:
        for index, chunk in enumerate(read_chunks(job.source, job.source_format, job.chunk_rows)):
            header = header or list(chunk.columns)
            if index < done:
                continue
            queries = texts(chunk, job.query_column, job.source)
            documents = texts(chunk, job.document_column, job.source)
            scores = np.asarray(scorer(queries, documents, chunk.first_row), dtype=np.float32)
            _write_part(job, index, chunk, scores)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    parts = [_part(job, i) for i in range(-(-total // job.chunk_rows))]
    keep_header = job.out_format == "tsv" and not (job.source_format == "tsv" and tsv_header(job.source) is None)
    tmp = job.out.with_name(job.out.name + ".tmp")
    join_chunks(parts, tmp, job.out_format, job.score_column, header if keep_header else None)
    os.replace(tmp, job.out)
    shutil.rmtree(job.partial)
    say(f"wrote {total:,} scored rows to {job.out}")
    return ScoreFileResult(job.out, total, total - resumed, resumed)


def _write_part(job: ScoreFileJob, index: int, chunk: Chunk, scores: np.ndarray) -> None:
    part = _part(job, index)
    tmp = part.with_name(part.name + ".tmp")
    write_chunk(tmp, job.out_format, chunk, [float(s) for s in scores], job.score_column)
    os.replace(tmp, part)


def _progress_bar(total: int, initial: int, show: bool | None):
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="crossrank score", unit="pair", unit_scale=True)


def in_process_scorer(reranker: Reranker, options: dict[str, Any] | None = None) -> ChunkScorer:
    """A ChunkScorer that runs RERANKER in this process (``score_pairs`` with OPTIONS)."""
    extra = dict(options or {})

    def score(queries: Sequence[str], documents: Sequence[str], first_row: int) -> np.ndarray:
        return reranker.score_pairs(list(zip(queries, documents)), show_progress=False, **extra)

    return score
