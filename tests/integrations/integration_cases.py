"""What the drop-in tests score (a query, its documents, varied pairs), and where they export."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

QUERY = "what is the capital of france"
DOCS = [
    "Paris is the capital and most populous city of France.",
    "Berlin is the capital of Germany.",
    "The Eiffel Tower is in Paris, France's capital city.",
    "Bananas are rich in potassium.",
    "",
    "France's capital, Paris, sits on the Seine; Lyon and Marseille are other large cities.",
]
# Varied pairs: casing, punctuation, non-ASCII, an empty side, one longer than max_length.
PAIRS = [(QUERY, doc) for doc in DOCS] + [
    ("HOW DO VACCINES WORK?!", "vaccines... immune system; antibodies & memory cells"),
    ("café crème", "Crème brûlée — custard with caramelised sugar. 日本語のテキスト。"),
    ("", "an empty query"),
    ("long", " ".join(f"word{i % 50} and more text" for i in range(400))),
]



@contextlib.contextmanager
def crossrank_home_set(home: Path) -> Iterator[Path]:
    """CROSSRANK_HOME=HOME inside the block only: the drop-ins' exports go there, and the tests that
    run after these still find the real cache (the default models)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROSSRANK_HOME", str(home))
        yield home
