"""Write a generated source file, or check that the committed one is current (the generator scripts'
shared last step)."""

from __future__ import annotations

import sys


def write_or_check(path: str, text: str, script: str, check: bool) -> int:
    """Write TEXT to PATH, or with CHECK compare it with PATH's contents; the exit status."""
    if check:
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{path} is stale; rerun {script}", file=sys.stderr)
                return 1
        print("up to date")
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {path} ({len(text)} bytes)")
    return 0
