"""The benchmark suite: run with `pytest bench/` (not part of the test command CI runs)."""

import pytest

from crossrank.bundle import Bundle


@pytest.fixture(scope="session")
def default_bundle() -> Bundle:
    from crossrank.default_model import default_model

    return Bundle.load(default_model())
