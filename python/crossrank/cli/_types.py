"""argparse value types shared by the commands: errors say what was expected and what came.

Range and type rules come from :mod:`crossrank._validation` (one definition for the API and the
command line); these wrappers only parse the text and turn a ValueError into argparse's error,
which :class:`crossrank.cli.OneLineParser` prints as one line naming the argument (exit 2).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from crossrank._validation import check_int, check_number


def _int(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = text
    try:
        return check_int(value, "value", minimum=minimum)
    except ValueError:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse ``type=`` for a positive integer."""
    return _int(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse ``type=`` for an integer >= 0."""
    return _int(text, 0)


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type=`` for an integer >= MINIMUM."""
    return lambda text: _int(text, minimum)


def number_in(minimum: float, maximum: float = math.inf) -> Callable[[str], float]:
    """An argparse ``type=`` for a finite number from MINIMUM to MAXIMUM (NaN and inf refused)."""

    def parse(text: str) -> float:
        try:
            return check_number(float(text), "value", minimum=minimum, maximum=maximum)
        except ValueError:
            span = f"from {minimum:g} to {maximum:g}" if math.isfinite(maximum) else f">= {minimum:g}"
            raise argparse.ArgumentTypeError(f"expected a finite number {span}, got {text!r}") from None

    return parse


def positive_int_list(what: str) -> Callable[[str], list[int]]:
    """An argparse ``type=`` for comma-separated positive integers (e.g. ``10,50,100``) that names
    WHAT (e.g. "pool sizes") when a value is missing or not positive."""

    def parse(text: str) -> list[int]:
        items = [item.strip() for item in text.split(",")]
        try:
            values = [int(item) for item in items]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{what} must be positive integers separated by commas (e.g. 10,50,100), got {text!r}") from None
        if min(values) < 1:
            raise argparse.ArgumentTypeError(f"{what} must be positive, got {text!r}")
        return values

    return parse


def output_file(text: str) -> Path:
    """An argparse ``type=`` for a file to write at the end of a run: its folder must exist now, so
    that a typo fails before the run rather than losing it."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; give a file name")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {str(path.parent)!r} does not exist (create it first)")
    return path
