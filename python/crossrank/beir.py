"""Reading a BEIR-layout folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv.

One reader for the export's fidelity pools (``crossrank.export.fidelity``) and for ``crossrank eval``
(``crossrank.retrieval.evaluate``); standard library only, so neither extra is needed for it.
"""

from __future__ import annotations

from pathlib import Path

from crossrank._jsonl import json_objects


def _lines(path: Path):
    """(line number from 1, text) of each non-blank line of PATH; ValueError naming PATH if not UTF-8."""
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    yield number, line
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _jsonl(path: Path, text_field: str) -> dict[str, dict]:
    """{_id: row} of a BEIR JSON-lines file, in file order; every row needs ``_id`` and TEXT_FIELD.

    Raises:
        ValueError: naming PATH and the line of a row that is not a JSON object, lacks ``_id`` or
            TEXT_FIELD, or has a TEXT_FIELD / title that is not a string.
    """
    rows: dict[str, dict] = {}
    for number, row in json_objects(path):
        if not isinstance(row.get("_id"), (str, int)) or isinstance(row.get("_id"), bool):
            raise ValueError(f"{path}:{number}: the row needs an '_id' (a string), got {row.get('_id')!r}")
        for name in (text_field, "title"):
            value = row.get(name)
            if value is None and name == text_field or value is not None and not isinstance(value, str):
                raise ValueError(f"{path}:{number}: '{name}' must be a string, got {value!r:.80}")
        rows[str(row["_id"])] = row
    return rows


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    """{query id: {doc id: grade}} of a BEIR qrels TSV (query-id, corpus-id, score; a header line).

    Raises:
        ValueError: naming PATH and the line of a row with fewer than three tab-separated columns
            or a grade that is not an integer.
    """
    qrels: dict[str, dict[str, int]] = {}
    for number, line in _lines(path):
        parts = line.rstrip("\r\n").split("\t")
        grade = parts[-1].strip()
        if number == 1 and not grade.lstrip("-").isdigit():
            continue  # the header
        if len(parts) < 3:
            raise ValueError(f"{path}:{number}: expected query-id, corpus-id and score separated by tabs, "
                             f"got {line.strip()!r:.80}")
        try:
            qrels.setdefault(parts[0], {})[parts[1]] = int(grade)
        except ValueError:
            raise ValueError(f"{path}:{number}: the grade must be an integer, got {grade!r:.40}") from None
    return qrels


def read_beir(folder: str | Path, split: str = "test") -> tuple[dict[str, str], dict[str, str],
                                                                dict[str, dict[str, int]]]:
    """(corpus {id: "title text"}, queries {id: text}, qrels {query id: {doc id: grade}}).

    Corpus and queries keep file order; all queries are returned, judged or not.

    Raises:
        FileNotFoundError: naming what is missing when FOLDER is not a BEIR folder.
        ValueError: naming the file and line of a malformed row.
    """
    root = Path(folder).expanduser()
    needed = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / f"{split}.tsv"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{root} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/{split}.tsv); "
                                f"missing: {', '.join(missing)}")
    corpus = {}
    for doc_id, row in _jsonl(needed[0], "text").items():
        corpus[doc_id] = f"{(row.get('title') or '').strip()} {row['text'].strip()}".strip()
    queries = {query_id: row["text"] for query_id, row in _jsonl(needed[1], "text").items()}
    return corpus, queries, _qrels(needed[2])
