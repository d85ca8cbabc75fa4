import pytest


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
