import shutil
from pathlib import Path

import pytest

from harness import World

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"


@pytest.fixture
def world(tmp_path):
    """An escrow with the bank fixture's agents and data registered (the file is a private copy)."""
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    w = World(tmp_path, src / "bank.dsc")
    w.setup_from_file()
    yield w
    w.close()
