"""argparse value types shared by the commands: errors say what was expected and what came."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def positive_int(text: str) -> int:
    """An argparse ``type=`` for a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_int_list(what: str) -> Callable[[str], list[int]]:
    """An argparse ``type=`` for comma-separated positive integers (e.g. ``10,50,100``) that names
    WHAT (e.g. "pool sizes") when a value is not positive."""

    def parse(text: str) -> list[int]:
        try:
            values = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
        if not values or min(values) < 1:
            raise argparse.ArgumentTypeError(f"{what} must be positive, got {text!r}")
        return values

    return parse
