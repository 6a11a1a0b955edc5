"""The benchmark suite: run with `pytest bench/` (not part of the test command CI runs)."""

import pytest

from crossrank.bundle import Bundle
from crossrank.default_model import default_model


@pytest.fixture(scope="session")
def default_bundle() -> Bundle:
    return Bundle.load(default_model())
