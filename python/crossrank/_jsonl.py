"""JSON Lines files: one JSON object per non-blank line, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


def json_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number from 1, object) of each non-blank line of PATH.

    Raises:
        ValueError: naming PATH and the line, for text that is not UTF-8, a line that is not JSON, or
            JSON that is not an object.
    """
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not valid JSON ({error.msg}, column {error.colno})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
                yield number, row
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
