"""A module attribute made on first access: how the adapters defer their framework's import."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def lazy_class(module: str, name: str, build: Callable[[], type]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that returns ``build()`` for NAME (built once, named MODULE.NAME, so
    that it pickles and prints like a class defined there) and raises AttributeError otherwise."""

    @functools.cache
    def built() -> type:
        cls = build()
        cls.__module__, cls.__qualname__ = module, name
        return cls

    def __getattr__(attribute: str) -> Any:
        if attribute == name:
            return built()
        raise AttributeError(f"module {module!r} has no attribute {attribute!r}")

    return __getattr__
