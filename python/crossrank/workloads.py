"""Realistic benchmark workloads.

Offline: passages cut from the prose paragraphs of ``pydoc_data.topics`` (the text behind
``help()``) with the length spread of web passages (MS MARCO-like, 40-120 words) or of long
documents (250-450 words); queries are short questions about the same topics.
Where a TREC DL 2020 folder (BEIR layout with ``runs/bm25.top100.trec``) is at hand: a real query
and its BM25 top-100 candidates, the reference reranking workload.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

PROFILES = {"msmarco": (40, 120), "long": (250, 450)}
TREC_DL = "trec-dl"
WORKLOADS = (*PROFILES, TREC_DL)

QUERIES = [
    "how does the with statement manage context",
    "what happens when an exception is raised inside a finally clause",
    "difference between is and == comparison",
    "how are default argument values evaluated",
    "what does the yield expression return in a generator",
    "how does python resolve names in nested scopes",
    "when is __del__ called on an object",
    "how do augmented assignment statements work",
]


def prose_paragraphs(text: str, *, min_words: int = 1, min_wordlike: float = 0.85) -> list[str]:
    """The flowing prose of a pydoc topic, one whitespace-normalized string per paragraph.

    Code samples and grammar rules (indented lines) and headings are skipped, and so are
    paragraphs under MIN_WORDS words or with fewer than MIN_WORDLIKE of their tokens word-like
    (tables and grammar fragments are mostly symbols; prose is mostly words).
    """
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.splitlines()
        if not lines or any(line.startswith(" ") for line in lines):
            continue
        if re.fullmatch(r"[*=\-~^]+", lines[-1].strip() or "-"):
            continue
        tokens = paragraph.split()
        wordlike = sum(bool(re.fullmatch(r"[\"'(]?[A-Za-z][A-Za-z'\-]*[\"'.,;:)]*", t)) for t in tokens)
        if len(tokens) >= min_words and wordlike >= min_wordlike * len(tokens):
            out.append(" ".join(tokens))
    return out


def _prose_words() -> list[str]:
    from pydoc_data.topics import topics

    return [word for text in topics.values() for paragraph in prose_paragraphs(text) for word in paragraph.split()]


def passages(count: int, profile: str = "msmarco", seed: int = 0) -> list[str]:
    """``count`` passages of real English prose whose word counts follow ``profile``."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    low, high = PROFILES[profile]
    words = _prose_words()
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        length = rng.randint(low, high)
        start = rng.randrange(0, len(words) - length)
        out.append(" ".join(words[start:start + length]))
    return out


def query(seed: int = 0) -> str:
    """A short natural-language question about the passages' topics."""
    return QUERIES[seed % len(QUERIES)]


def trec_dl_pool(data: str | Path, size: int = 100) -> tuple[str, list[str]]:
    """The first query of a TREC DL run with the BM25 top-``size`` passages retrieved for it.

    Args:
        data: a TREC DL 2020 folder in BEIR layout (``queries.jsonl``, ``corpus.jsonl``,
            ``runs/bm25.top100.trec``).
        size: how many of the query's candidates to take, best first.

    Returns:
        (query text, candidate passages with their titles).

    Raises:
        FileNotFoundError: when DATA has no BM25 run.
        ValueError: when the run holds fewer than SIZE candidates for the query.
    """
    data = Path(data)
    run = data / "runs" / "bm25.top100.trec"
    if not run.is_file():
        raise FileNotFoundError(f"{data} has no runs/bm25.top100.trec (a TREC DL 2020 folder in BEIR layout)")
    qid, docids = _first_ranking(run)
    if size > len(docids):
        raise ValueError(f"TREC DL pools hold {len(docids)} candidates; asked for {size}")
    docids = docids[:size]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (data / "queries.jsonl").open(encoding="utf-8"))}
    texts = _corpus_texts(data / "corpus.jsonl", set(docids))
    return queries[qid], [texts[d] for d in docids]


def _first_ranking(run: Path) -> tuple[str, list[str]]:
    """(query id, ranked document ids) of the first query in a TREC run file."""
    ranked: dict[str, list[str]] = {}
    for line in run.read_text(encoding="utf-8").splitlines():
        qid, _, docid, *_ = line.split()
        ranked.setdefault(qid, []).append(docid)
    return next(iter(ranked.items()))


def _corpus_texts(corpus: Path, wanted: set[str]) -> dict[str, str]:
    """Title and text of the WANTED documents of a BEIR corpus file, by id."""
    texts = {}
    with corpus.open(encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            if doc["_id"] in wanted:
                texts[doc["_id"]] = " ".join(filter(None, (doc.get("title"), doc["text"])))
    return texts


def pool(workload: str, size: int, data: str | Path | None = None) -> tuple[str, list[str]]:
    """(query, candidates) for a benchmark: ``msmarco`` / ``long`` prose, or ``trec-dl`` from DATA."""
    if workload == TREC_DL:
        if data is None:
            raise ValueError("the trec-dl workload needs the TREC DL 2020 folder (--data)")
        return trec_dl_pool(data, size)
    return query(), passages(size, workload)
