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


@pytest.fixture
def scen(tmp_path, monkeypatch, capsys):
    """The small alice/bob scenario of `cli_scenario.py`, agents and data registered."""
    from cli_scenario import Scenario

    s = Scenario(tmp_path, capsys)
    monkeypatch.chdir(tmp_path)
    for k in ("DSC_KEYRING", "DSC_CONFIG"):
        monkeypatch.setenv(k, s.env[k])
    s.setup()
    return s
