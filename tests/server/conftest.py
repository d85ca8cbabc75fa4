"""`served`: a `dsc serve` subprocess on a fresh escrow (tests/serving.py)."""

import pytest

from serving import Served


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "site")
    yield s
    s.stop()
