"""`served`: a `dsc serve` subprocess on a fresh escrow (tests/serving.py)."""

import pytest
from serving import Served


@pytest.fixture
def served(tmp_path):
    s = Served(tmp_path / "site")
    yield s
    s.stop()


@pytest.fixture
def dsc(tmp_path, dsc_in):
    """Run `dsc ARGS` in-process in tmp_path (no escrow made there); returncode/stdout/stderr."""
    return lambda *args: dsc_in(tmp_path, *args)
