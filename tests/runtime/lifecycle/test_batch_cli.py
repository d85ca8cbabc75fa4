"""`dsc propose FILE C1 C2` / `--all` and `dsc approve C1 C2`: several contracts in one signed
request (all or nothing), through the command line."""

import json

import pytest
from test_batch_actions import SCENARIO


@pytest.fixture
def cli(tmp_path, dsc, monkeypatch):
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "keys"))
    (tmp_path / "s.dsc").write_text(SCENARIO)
    (tmp_path / "a0.csv").write_text("x,y\n1,2\n")
    (tmp_path / "a1.csv").write_text("x,y\n3,4\n")
    for a in ("a0", "a1", "a2"):
        assert dsc("agent", "create", a, "--no-passphrase").returncode == 0
    for a in ("a0", "a1"):
        assert dsc("data", "add", f"{a}.t", f"{a}.csv", "--as", a).returncode == 0
    return dsc


def test_propose_all_then_approve_several(cli):
    r = cli("propose", "s.dsc", "--all", "--as", "a0", "--format", "json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert [c["name"] for c in got] == ["c0", "c1"] and {c["status"] for c in got} == {"pending"}
    c2 = json.loads(cli("propose", "s.dsc", "c2", "--as", "a1", "--format", "json").stdout)  # one: one object
    assert c2["name"] == "c2"
    r = cli("approve", "c0", "c2", "--as", "a1", "--yes")
    assert r.returncode == 0, r.stderr
    assert "a1 approved contract c0" in r.stdout and "a1 approved contract c2" in r.stdout
    assert r.stdout.count("Identity") == 2  # each summary shown before anything is signed
    r = cli("status", "--format", "json")
    assert r.returncode == 0
    assert cli("audit", "verify").returncode == 0


def test_one_refused_contract_proposes_none(cli):
    r = cli("propose", "s.dsc", "c0", "c2", "--as", "a0")
    assert r.returncode == 1 and "c2" in r.stderr and "nothing in this request was done" in r.stderr
    assert json.loads(cli("contracts", "--format", "json").stdout) == []


@pytest.mark.parametrize("args", [("s.dsc",), ("s.dsc", "c0", "--all")])
def test_names_or_all_not_both_nor_neither(cli, args):
    r = cli("propose", *args, "--as", "a0")
    assert r.returncode == 2 and json.loads(cli("contracts", "--format", "json").stdout) == []


def test_approve_several_refuses_before_signing_a_contract_the_agent_cannot_approve(cli):
    cli("propose", "s.dsc", "--all", "--as", "a0")
    r = cli("approve", "c0", "c1", "--as", "a1", "--yes")  # c1 reads only a0's data
    assert r.returncode == 1 and "a1 owns none of the data of contract c1" in r.stderr
    st = json.loads(cli("status", "c0", "--format", "json").stdout)
    assert st["approvals"] == []
