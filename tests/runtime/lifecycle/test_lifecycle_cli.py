"""The lifecycle commands end to end through `dsc` (in-process), with a config file."""

import json
import shutil
from pathlib import Path

import pytest

from datastation.runtime.cli import main

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    shutil.copytree(FIXTURES, tmp_path / "bank")
    (tmp_path / "data_station_config.yaml").write_text("escrow_dir: escrow\nstore: {synchronous: NORMAL}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSC_CONFIG", raising=False)

    def run(*args):
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("init")[0] == 0
    for a in ("bank1", "bank2", "auditor"):
        assert run("agent", "create", a, "--no-passphrase")[0] == 0
    for key in ("bank1.train", "bank1.test", "bank2.train", "bank2.test"):
        o, n = key.split(".")
        assert run("data", "add", key, f"bank/{o}_{n}.csv", "--as", o)[0] == 0
    return run


def test_propose_approve_execute(cli):
    code, out, err = cli("propose", "bank/bank.dsc", "joint_model", "--as", "bank1", "--format", "json")
    assert code == 0, err
    cid = json.loads(out)["id"]
    code, out, _ = cli("contracts", "--pending-mine", "--as", "bank2", "--format", "json")
    assert [c["id"] for c in json.loads(out)] == [cid]
    code, out, _ = cli("approve", cid[:10], "--as", "bank1", "--yes")
    assert code == 0 and "Who contributes which data" in out and "status pending" in out
    code, out, err = cli("execute", cid[:10], "--as", "bank1")
    assert code == 4 and "still needs the approval of bank2" in err  # awaiting approval
    assert cli("approve", cid, "--as", "bank2", "--yes")[0] == 0
    code, out, _ = cli("execute", cid, "--as", "bank2", "--format", "json")
    rep = json.loads(out)
    assert code == 0 and rep["status"] == "executed" and len(rep["releases"]) == 2
    code, out, _ = cli("status", cid, "--format", "json")
    st = json.loads(out)
    assert st["status"] == "executed" and {a["agent"] for a in st["approvals"]} == {"bank1", "bank2"}
    code, out, _ = cli("status")
    assert code == 0 and "joint_model" in out and "executed" in out


def test_refusals_exit_1_with_a_message(cli):
    code, out, err = cli("propose", "bank/bank.dsc", "joint_model", "--as", "bank2")
    assert code == 1 and "proposed by bank1, not bank2" in err
    cid = json.loads(cli("propose", "bank/bank.dsc", "joint_model", "--as", "bank1", "--format", "json")[1])["id"]
    code, _, err = cli("approve", cid, "--as", "auditor", "--yes")
    assert code == 1 and "auditor is party to no contract" in err  # an outsider: as for no id
    code, _, err = cli("approve", "ffff", "--as", "bank1", "--yes")
    assert code == 1 and "no contract" in err


def test_reject_revoke_policy(cli, tmp_path):
    cid = json.loads(cli("propose", "bank/bank.dsc", "joint_model", "--as", "bank1", "--format", "json")[1])["id"]
    pooled = json.loads(cli("propose", "bank/bank.dsc", "pooled", "--as", "bank1", "--format", "json")[1])["id"]
    (tmp_path / "p.dsc").write_text('use "bank/functions.py"\npolicy bank2 {\n  allow fraud_model on bank2.* to any\n'
                                    '  allow rows on bank2.*\n  allow score on bank2.*\n}\n')
    code, out, _ = cli("policy", "apply", "p.dsc", "--as", "bank2")
    assert code == 0 and "p.dsc:3" in out and "joint_model" in out and "pooled" in out
    assert "fraud_model: user bank/functions.py sha256 " in out  # what the name was resolved to
    code, out, _ = cli("policy", "show", "--format", "json")
    rule = json.loads(out)[0]["rules"][0]
    assert rule["line"] == 3
    assert (rule["function"]["name"], rule["function"]["origin"], rule["function"]["module"]) == (
        "fraud_model", "user", "bank/functions.py")
    assert len(rule["function"]["sha256"]) == 64
    code, out, _ = cli("policy", "show", "bank2")
    assert code == 0 and f"fraud_model: user bank/functions.py sha256 {rule['function']['sha256'][:16]}" in out
    assert cli("reject", cid, "--as", "bank1", "--why", "changed my mind")[0] == 0
    code, out, _ = cli("status", cid)
    assert "rejected by bank1: changed my mind" in out
    code, out, _ = cli("revoke", pooled, "--as", "bank1")
    assert code == 0 and "revoked" in out
    code, out, _ = cli("contracts", "--status", "revoked", "--format", "json")
    assert [c["id"] for c in json.loads(out)] == [pooled]


def test_propose_refuses_a_file_with_errors(cli, tmp_path):
    (tmp_path / "bad.dsc").write_text("agent a\ncontract c { by a compute nope() to zed }\n")
    code, out, err = cli("propose", "bad.dsc", "c", "--as", "bank1")
    assert code == 1 and "DSC" in err
