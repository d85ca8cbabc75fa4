"""An escrow in tmp_path with the bank fixtures' agents and data, driven through `dsc`."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from datastation.runtime.cli import main

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"


# every stage, with built-ins only (no user code: fast)
QUICK = """agent bank1
data bank1.train csv "bank1_train.csv"
contract quick {
  by      bank1
  compute rows(bank1.train)
  to      bank1
  require rows(bank1.train) >= 1
  ensure  result >= 1
}
"""


@pytest.fixture
def bank(tmp_path, monkeypatch, capsys):
    """`bank.dsc`'s agents and data registered through the CLI; `.run(*args)` runs `dsc` in-process,
    `.sub(*args)` as a subprocess (standard input, output and error not terminals)."""
    shutil.copytree(FIXTURES, tmp_path / "bank")
    (tmp_path / "bank" / "quick.dsc").write_text(QUICK)
    (tmp_path / "data_station_config.yaml").write_text("escrow_dir: escrow\nstore: {synchronous: NORMAL}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSC_CONFIG", raising=False)

    def run(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        assert "Traceback" not in out.err and "internal error" not in out.err, out.err
        return SimpleNamespace(code=code, out=out.out, err=out.err)

    def sub(*args):
        done = subprocess.run([sys.executable, "-m", "datastation.runtime.cli", *map(str, args)], cwd=tmp_path,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
        assert "Traceback" not in done.stderr, done.stderr
        return SimpleNamespace(code=done.returncode, out=done.stdout, err=done.stderr)

    def propose(contract="joint_model"):
        r = run("propose", "bank/bank.dsc", contract, "--as", "bank1", "--format", "json")
        assert r.code == 0, r.err
        return json.loads(r.out)["id"]

    def approve_all(cid):
        for agent in ("bank1", "bank2"):
            r = run("approve", cid, "--as", agent, "--yes")
            assert r.code == 0, r.err

    assert run("init").code == 0  # only `dsc init` creates an escrow
    for a in ("bank1", "bank2", "auditor"):
        assert run("agent", "create", a, "--no-passphrase").code == 0
    for key in ("bank1.train", "bank1.test", "bank2.train", "bank2.test"):
        o, n = key.split(".")
        assert run("data", "add", key, f"bank/{o}_{n}.csv", "--as", o).code == 0
    return SimpleNamespace(run=run, sub=sub, propose=propose, approve_all=approve_all, root=tmp_path)
