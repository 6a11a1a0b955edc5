"""Checks and name lists shared by every public entry point: clear errors that name the argument.

Each list of accepted names is defined here once; the reranker, tokenizer, bundle reader,
exporter and command line all take them from here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence

TRUNCATIONS = ("only_second", "longest_first")
ACTIVATIONS = ("sigmoid", "softmax", "none")
# The precision rungs, fastest first: static int8 (activation scales calibrated at export), int8 with
# a scale per token (crossrank's GEMM, only on CPUs with AVX512-VNNI), int8 with dynamic activation
# scales (possibly mixed with fp32 operator groups by the quality gate), bf16 (bf16 products, fp32
# sums: crossrank's GEMM, only on CPUs with AVX512-BF16), fp32.
PRECISIONS = ("int8_static", "int8_token", "int8", "bf16", "fp32")
# Rungs whose scores depend on a pair's batch mates (dynamic int8 takes each activation's scale over
# the whole batch); the others score a pair the same alone or in any batch.
BATCH_DEPENDENT_PRECISIONS = ("int8",)
# How static int8's activation ranges are taken from the calibration pairs (ONNX Runtime's names).
CALIBRATION_METHODS = ("MinMax", "Percentile", "Entropy")
# How a document longer than the model's window is scored: cut (truncate), or cut into windows whose
# scores become the document's: the first window's (firstp), the best (maxp), their mean (meanp).
LONG_DOCUMENTS = ("truncate", "firstp", "maxp", "meanp")
# The largest value the engine's int32 / size_t options accept from Python.
INT32_MAX = 2**31 - 1


def check_choice(value: object, choices: Sequence[str], name: str) -> str:
    """Return VALUE if it is one of CHOICES, else raise ValueError naming NAME and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_int(value: object, name: str, *, minimum: int, maximum: int | None = None,
              allow_none: bool = False, maximum_name: str | None = None) -> int | None:
    """Return VALUE as int if it is an integer from MINIMUM to MAXIMUM (numpy integers included;
    bool, float, NaN and inf never).

    Args:
        value: what the caller passed.
        name: the argument's name, for the message.
        minimum: the smallest accepted value.
        maximum: the largest accepted value (None: no bound; INT32_MAX for what reaches the engine).
        allow_none: accept None (returned as None: "the default").
        maximum_name: how to call MAXIMUM in the message (e.g. "threads=2").

    Raises:
        ValueError: naming NAME and the accepted range.
    """
    if value is None and allow_none:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
            or maximum is not None and value > maximum):
        upper = maximum_name or (None if maximum is None else f"{maximum:,}")
        lower = {0: "a non-negative int", 1: "a positive int"}.get(minimum, f"an int >= {minimum}")
        expected = f"an int from {minimum} to {upper}" if upper else lower
        if allow_none:
            expected += " or None"
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_positive_int(value: object, name: str, *, allow_none: bool = False) -> int | None:
    """Return VALUE as int if it is a positive integer (numpy integers included, bool not).

    Raises:
        ValueError: naming NAME when VALUE is not a positive integer (or None, where allowed).
    """
    return check_int(value, name, minimum=1, allow_none=allow_none)


def check_non_negative_int(value: object, name: str, *, maximum: int | None = None) -> int:
    """Return VALUE as int if it is an integer from 0 (to MAXIMUM; numpy integers included, bool not).

    Raises:
        ValueError: naming NAME otherwise.
    """
    return check_int(value, name, minimum=0, maximum=maximum)


def check_number(value: object, name: str, *, minimum: float, maximum: float = math.inf) -> float:
    """Return VALUE as float if it is a finite real number from MINIMUM to MAXIMUM (bool never).

    Raises:
        ValueError: naming NAME and the range (NaN and inf never pass).
    """
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or not minimum <= value <= maximum):
        expected = f"from {minimum:g} to {maximum:g}" if math.isfinite(maximum) else f">= {minimum:g}"
        raise ValueError(f"{name} must be a finite number {expected}, got {value!r}")
    return float(value)


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


def check_column_texts(values: Sequence[object], column: str, row_name: Callable[[int], str]) -> list[str]:
    """VALUES (one column of a table of pairs) as a list of str; ValueError naming the first row that
    is not text, as ``row_name(index)`` says ("pairs.parquet row 1234", "batch row 3 (doc_id=7)")."""
    values = list(values)
    for index, value in enumerate(values):
        if not isinstance(value, str):
            shown = "None" if value is None else f"{type(value).__name__} {value!r:.40}"
            raise ValueError(f"{row_name(index)}: {column} is {shown}; every row needs a {column} string")
    return values


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

