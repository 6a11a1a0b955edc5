"""Pair files: Parquet, JSON Lines and TSV, read and written in chunks of rows.

A pair file has a query and a document per row, and may carry other columns (ids, labels); they are
kept as they are and the score is added as one more column. Parquet needs ``pyarrow`` (the ``[ray]``
or ``[score]`` extra); JSONL and TSV need nothing. A TSV has no quoting: fields are split on tabs, and a
first line ``query<TAB>document...`` is a header (else the columns are named query, document, col2 ...).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossrank._jsonl import json_objects

FORMATS = ("parquet", "jsonl", "tsv")
PARQUET_HINT = "pip install 'crossrank[score]'  (pyarrow reads and writes Parquet)"


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of PATH from its suffix (.parquet, .jsonl / .json, .tsv / .txt).

    Raises:
        ValueError: naming the path and the suffixes understood.
    """
    suffix = Path(path).suffix.lower()
    found = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
             ".tsv": "tsv", ".txt": "tsv"}.get(suffix)
    if found is None:
        raise ValueError(f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; use .parquet, "
                         ".jsonl or .tsv (or pass --format)")
    return found


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError(f"reading or writing Parquet needs pyarrow: {PARQUET_HINT}") from None
    return pyarrow


@dataclass
class Chunk:
    """Consecutive rows of a pair file: its columns (name -> values) and where it starts."""

    first_row: int
    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))


def count_rows(path: Path, fmt: str) -> int:
    """Rows in the file (Parquet: from its metadata; JSONL / TSV: its non-empty lines, less a header)."""
    if fmt == "parquet":
        return _pyarrow().parquet.ParquetFile(path).metadata.num_rows
    rows = 0
    with open(path, "rb") as f:
        for line in f:
            rows += bool(line.strip())
    if fmt == "tsv" and rows and tsv_header(path) is not None:
        rows -= 1
    return rows


def tsv_header(path: Path) -> list[str] | None:
    """The header of a TSV pair file, or None when its first line is a row."""
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\r\n").split("\t")
    return first if first[:2] == ["query", "document"] else None


def read_chunks(path: Path, fmt: str, chunk_rows: int) -> Iterator[Chunk]:
    """The file's rows, CHUNK_ROWS at a time, in order."""
    if fmt == "parquet":
        yield from _parquet_chunks(path, chunk_rows)
        return
    rows: list[Any] = []
    first = 0
    for row in (_jsonl_rows(path) if fmt == "jsonl" else _tsv_rows(path)):
        rows.append(row)
        if len(rows) == chunk_rows:
            yield Chunk(first, _columns(rows))
            first += len(rows)
            rows = []
    if rows:
        yield Chunk(first, _columns(rows))


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    file = _pyarrow().parquet.ParquetFile(path)
    first = 0
    for batch in file.iter_batches(batch_size=chunk_rows):
        yield Chunk(first, batch.to_pydict())
        first += batch.num_rows


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    for _, row in json_objects(path):
        yield row


def _tsv_rows(path: Path) -> Iterator[dict[str, Any]]:
    header = tsv_header(path)
    with open(path, encoding="utf-8", newline="") as f:
        if header is not None:
            f.readline()
        for line in f:
            fields = line.rstrip("\r\n").split("\t")
            if fields == [""]:
                continue
            names = header or ["query", "document", *(f"col{i}" for i in range(2, len(fields)))]
            yield dict(zip(names, fields))


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in rows] for name in names}


def write_chunk(path: Path, fmt: str, chunk: Chunk, scores: list[float], score_column: str) -> None:
    """Write CHUNK's rows with SCORES as column SCORE_COLUMN to PATH (a whole file)."""
    if fmt == "parquet":
        pa = _pyarrow()
        table = pa.table(chunk.columns).append_column(score_column, pa.array(scores, type=pa.float32()))
        pa.parquet.write_table(table, path)
        return
    names = list(chunk.columns)
    with open(path, "w", encoding="utf-8", newline="") as f:
        for i, score in enumerate(scores):
            if fmt == "jsonl":
                row = {name: chunk.columns[name][i] for name in names}
                row[score_column] = score
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                # %.9g keeps every float32 exactly.
                f.write("\t".join([*(str(chunk.columns[n][i]) for n in names), f"{score:.9g}"]) + "\n")


def join_chunks(parts: list[Path], out: Path, fmt: str, score_column: str, header: list[str] | None) -> None:
    """Concatenate the chunk files PARTS, in order, into OUT (TSV: under HEADER + the score column)."""
    if fmt == "parquet":
        pq = _pyarrow().parquet
        writer = None
        try:
            for part in parts:
                table = pq.read_table(part)
                writer = writer or pq.ParquetWriter(out, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        return
    with open(out, "wb") as f:
        if fmt == "tsv" and header is not None:
            f.write(("\t".join([*header, score_column]) + "\n").encode("utf-8"))
        for part in parts:
            f.write(part.read_bytes())
