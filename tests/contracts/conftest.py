import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture
def bank_dir(tmp_path) -> Path:
    """A private copy of the bank fixture (tests edit it)."""
    dst = tmp_path / "bank"
    shutil.copytree(FIXTURES, dst)
    return dst
