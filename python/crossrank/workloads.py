"""Realistic benchmark workloads that ship offline: English prose from Python's own documentation.

Passages are cut from the prose paragraphs of ``pydoc_data.topics`` (the text behind ``help()``)
with the length spread of web passages (MS MARCO-like, 40-120 words) or of long documents
(250-450 words). Queries are short questions about the same topics.
"""

from __future__ import annotations

import random
import re

PROFILES = {"msmarco": (40, 120), "long": (250, 450)}

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


def _prose_words() -> list[str]:
    from pydoc_data.topics import topics

    words: list[str] = []
    for text in topics.values():
        for paragraph in re.split(r"\n\s*\n", text):
            lines = paragraph.splitlines()
            # Skip code samples, grammar rules and headings: keep flowing prose.
            if not lines or any(line.startswith(" ") for line in lines):
                continue
            if re.fullmatch(r"[*=\-~^]+", lines[-1].strip() or "-"):
                continue
            tokens = paragraph.split()
            # Tables and grammar fragments are mostly symbols; prose is mostly words.
            wordlike = sum(bool(re.fullmatch(r"[\"'(]?[A-Za-z][A-Za-z'\-]*[\"'.,;:)]*", t)) for t in tokens)
            if wordlike < 0.85 * len(tokens):
                continue
            words.extend(tokens)
    return words


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
