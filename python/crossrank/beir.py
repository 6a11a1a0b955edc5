"""Reading a BEIR-layout folder: corpus.jsonl, queries.jsonl and qrels/<split>.tsv.

One reader for the export's fidelity pools (``crossrank.export.fidelity``) and for ``crossrank eval``
(``crossrank.retrieval.evaluate``); standard library only, so neither extra is needed for it.
"""

from __future__ import annotations

import json
from pathlib import Path


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_beir(folder: str | Path, split: str = "test") -> tuple[dict[str, str], dict[str, str],
                                                                dict[str, dict[str, int]]]:
    """(corpus {id: "title text"}, queries {id: text}, qrels {query id: {doc id: grade}}).

    Corpus and queries keep file order; all queries are returned, judged or not. Raises
    FileNotFoundError naming what is missing when FOLDER is not a BEIR folder.
    """
    root = Path(folder).expanduser()
    needed = [root / "corpus.jsonl", root / "queries.jsonl", root / "qrels" / f"{split}.tsv"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{root} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/{split}.tsv); "
                                f"missing: {', '.join(missing)}")
    corpus = {}
    for row in _jsonl(needed[0]):
        title, text = (row.get("title") or "").strip(), (row.get("text") or "").strip()
        corpus[str(row["_id"])] = f"{title} {text}".strip()
    queries = {str(row["_id"]): str(row["text"]) for row in _jsonl(needed[1])}
    qrels: dict[str, dict[str, int]] = {}
    with open(needed[2], encoding="utf-8") as f:
        for number, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or number == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # blank line, or the header
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[-1])
    return corpus, queries, qrels
