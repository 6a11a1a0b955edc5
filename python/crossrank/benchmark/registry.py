"""Every engine ``crossrank bench`` can time, by name, and the groups the command line accepts."""

from __future__ import annotations

from collections.abc import Sequence

from crossrank.benchmark.engines import OWN_ENGINES, EngineFactory
from crossrank.benchmark.peers import PEERS

ENGINES: dict[str, EngineFactory] = {**OWN_ENGINES, **PEERS}

# Names accepted on the command line for a group of engines.
ALIASES = {
    "crossrank": ["crossrank-int8", "crossrank-fp32"],
    "ort-naive": ["ort-naive-int8", "ort-naive-fp32"],
    "peers": list(PEERS),
    "all": list(ENGINES),
}


def is_peer(name: str) -> bool:
    """Whether NAME is an optional peer (a peer that cannot load is skipped, not an error)."""
    return name in PEERS


def expand_engines(names: Sequence[str]) -> list[str]:
    """Engine names with aliases expanded, duplicates dropped, order kept.

    Args:
        names: engine names and group names (ALIASES).

    Returns:
        The engine names, each once, in the order given.

    Raises:
        ValueError: naming an unknown engine and the names to choose from.
    """
    out: list[str] = []
    for name in names:
        for engine in ALIASES.get(name, [name]):
            if engine not in ENGINES:
                raise ValueError(f"unknown engine {engine!r}; choose from {sorted(ENGINES)} "
                                 f"or the groups {sorted(ALIASES)}")
            if engine not in out:
                out.append(engine)
    return out
