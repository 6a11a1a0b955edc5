"""Shared by the export tests: varied pairs to score, and reading a bundle's manifest."""

from __future__ import annotations

import json
from pathlib import Path

# Varied pairs: short and long, casing, punctuation, non-ASCII, empty sides, an overlong one.
PAIRS = [
    ("what is the capital of france", "Paris is the capital and most populous city of France."),
    ("what is the capital of france", "Berlin is the capital of Germany."),
    ("how do vaccines work", ("Vaccines train the immune system to recognise a pathogen without "
                             "causing the disease, by exposing it to a harmless part of it.")),
    ("HOW DO VACCINES WORK?!", "vaccines... immune system; antibodies & memory cells"),
    ("python global interpreter lock", ("The GIL is a mutex that allows only one thread to hold "
                                       "control of the Python interpreter at a time.")),
    ("café crème", "Crème brûlée — custard with caramelised sugar. 日本語のテキスト。 Ünïcödé ümlauts."),
    ("empty document", ""),
    ("", "an empty query"),
    ("", ""),
    ("emoji 🙂 test", "🙂🙃 tokens outside the vocabulary become [UNK]"),
    ("numbers 3.14159 and 2,718", "pi is about 3.14159 and e about 2.71828"),
    ("long", " ".join(f"word{i % 50} and more text" for i in range(400))),
]  # the last pair is longer than 512 tokens


def read_manifest(bundle: Path) -> dict:
    """The bundle's crossrank.json, parsed."""
    return json.loads((bundle / "crossrank.json").read_text(encoding="utf-8"))
