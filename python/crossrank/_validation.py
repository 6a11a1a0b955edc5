"""Input checks shared by the tokenizer and the reranker: clear errors, never a crash."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def check_text(value: object, what: str) -> str:
    """Return ``value`` if it is a str that can be encoded as UTF-8, else raise naming ``what``."""
    if type(value) is not str and not isinstance(value, str):
        kind = "None" if value is None else type(value).__name__
        raise TypeError(f"{what} must be str, got {kind}")
    return value


def check_utf8(texts: Iterable[str], what: str) -> None:
    """Raise ValueError naming the first text that holds a lone surrogate."""
    for index, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"{what} {index} is not valid Unicode (lone surrogate at character {error.start})"
            ) from None


def split_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Split (query, document) pairs into two lists, checking every item."""
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise TypeError(f"pairs must be a sequence of (query, document) tuples, got {type(pairs).__name__}")
    queries: list[str] = []
    docs: list[str] = []
    for index, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"pair {index} must be a (query, document) tuple, got {pair!r:.80}")
        queries.append(check_text(pair[0], f"pair {index}: query"))
        docs.append(check_text(pair[1], f"pair {index}: document"))
    return queries, docs
