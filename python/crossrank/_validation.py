"""Checks and name lists shared by every public entry point: clear errors that name the argument.

Each list of accepted names is defined here once; the reranker, tokenizer, bundle reader,
exporter and command line all take them from here.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

TRUNCATIONS = ("only_second", "longest_first")
ACTIVATIONS = ("sigmoid", "softmax", "none")
PRECISIONS = ("int8", "fp32")


def check_choice(value: object, choices: Sequence[str], name: str) -> str:
    """Return VALUE if it is one of CHOICES, else raise ValueError naming NAME and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_positive_int(value: object, name: str, *, allow_none: bool = False) -> int | None:
    """Return VALUE as int if it is a positive integer (numpy integers included, bool not).

    Raises:
        ValueError: naming NAME when VALUE is not a positive integer (or None, where allowed).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        expected = "a positive int or None" if allow_none else "a positive int"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_text(value: object, what: str) -> str:
    """Return ``value`` if it is a str, else raise TypeError naming ``what``."""
    if type(value) is not str and not isinstance(value, str):
        kind = "None" if value is None else type(value).__name__
        raise TypeError(f"{what} must be str, got {kind}")
    return value


def check_texts(texts: object, what: str) -> list[str]:
    """A list of the str items of TEXTS (a sequence, not one string), each checked as ``<what> <i>``."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise TypeError(f"{what}s must be a sequence of str, got {type(texts).__name__}")
    return [check_text(text, f"{what} {index}") for index, text in enumerate(texts)]


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

