"""An escrow made the way a user makes one (`dsc init`, agents, data, a policy, a proposal), and
`dsc` run through its entry point in a chosen directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from datastation.runtime.cli import main

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"

SCENARIO = '''use "functions.py"

agent bank1 "First Bank"
agent bank2 "Second Bank"
agent auditor

data bank1.train csv "bank1_train.csv"
data bank2.train csv "bank2_train.csv"

contract joint_model {
  by      bank1
  compute fraud_model(train = [bank1.train, bank2.train], label = "is_fraud")
  to      bank1, bank2
}

contract peek {
  by      auditor
  compute rows(bank2.train)
  to      auditor
}
'''

POLICY = 'use "functions.py"\n\npolicy bank2 {\n  deny any on bank2.train except fraud_model\n}\n'


@pytest.fixture(scope="session")
def _project_template(tmp_path_factory):
    """The project, made once (through the CLI) and copied for each test: `template/project`
    and the agents' keyring `template/keyring`."""
    base = tmp_path_factory.mktemp("template")
    root = base / "project"
    root.mkdir()
    for name in ("functions.py", "bank1_train.csv", "bank2_train.csv"):
        shutil.copy(FIXTURES / name, root / name)
    (root / "s.dsc").write_text(SCENARIO)
    (root / "p.dsc").write_text(POLICY)
    (root / "sub" / "deeper").mkdir(parents=True)
    steps = [("init",)] + [("agent", "create", a, "--no-passphrase") for a in ("bank1", "bank2", "auditor")] + [
        ("data", "add", "bank1.train", "bank1_train.csv", "--as", "bank1"),
        ("data", "add", "bank2.train", "bank2_train.csv", "--as", "bank2"),
        ("policy", "apply", "p.dsc", "--as", "bank2"),
        ("propose", "s.dsc", "joint_model", "--as", "bank1"),
    ]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DSC_KEYRING", str(base / "keyring"))
        for var in ("DSC_CONFIG", "DSC_ESCROW"):
            mp.delenv(var, raising=False)
        mp.chdir(root)
        for step in steps:
            assert main(list(step)) == 0, step
    return base


@pytest.fixture
def project(tmp_path, monkeypatch, _project_template, capsys):
    """`tmp_path/project`: an initialised escrow with bank1, bank2, auditor, their data, bank2's
    standing policy (denies everything on bank2.train but fraud_model) and joint_model proposed;
    the agents' keys in `tmp_path/keyring` ($DSC_KEYRING)."""
    capsys.readouterr()
    shutil.copytree(_project_template / "project", tmp_path / "project")
    shutil.copytree(_project_template / "keyring", tmp_path / "keyring")
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "keyring"))
    return tmp_path / "project"
