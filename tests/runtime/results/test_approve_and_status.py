"""Small things a user trips on (issue 10, item 9): a wrong `--as` on `dsc approve` fails before the
summary is printed; without a terminal `dsc approve` signs only with `--yes`; `dsc status` of a
closed contract waits for nobody."""

import json


def test_wrong_as_fails_before_the_summary(bank):
    cid = bank.propose()
    r = bank.run("approve", cid, "--as", "auditor", "--yes")
    assert r.code == 1 and "auditor is party to no contract" in r.err
    assert r.out == ""  # not the 25-line summary first
    r = bank.run("approve", cid, "--as", "nobody", "--yes")
    assert r.code == 1 and r.out == ""


def test_approving_twice_fails_before_the_summary(bank):
    cid = bank.propose()
    assert bank.run("approve", cid, "--as", "bank1", "--yes").code == 0
    r = bank.run("approve", cid, "--as", "bank1", "--yes")
    assert r.code == 1 and "already approved" in r.err and r.out == ""


def test_a_source_agent_without_its_key_fails_before_the_summary(bank, tmp_path, monkeypatch):
    cid = bank.propose()
    monkeypatch.setenv("DSC_KEYRING", str(tmp_path / "empty-keyring"))
    r = bank.run("approve", cid, "--as", "bank2", "--yes")
    assert r.code == 1 and "no private key for agent 'bank2'" in r.err and r.out == ""


def test_without_a_terminal_approve_needs_yes_and_signs_nothing(bank):
    cid = bank.propose()
    r = bank.sub("approve", cid, "--as", "bank2")  # standard input is not a terminal
    assert r.code == 2 and "--yes" in r.err and r.out == ""
    st = json.loads(bank.run("status", cid, "--format", "json").out)
    assert st["approvals"] == [] and st["status"] == "pending"
    assert bank.sub("approve", cid, "--as", "bank2", "--yes").code == 0


def test_status_of_a_rejected_contract_waits_for_nobody(bank):
    cid = bank.propose()
    assert bank.run("status", cid).out.count("waiting for: bank1, bank2") == 1
    assert bank.run("reject", cid, "--as", "bank2", "--why", "no").code == 0
    r = bank.run("status", cid)
    assert r.code == 0 and "rejected by bank2: no" in r.out
    assert "waiting for" not in r.out and "not approved by: bank1, bank2" in r.out
