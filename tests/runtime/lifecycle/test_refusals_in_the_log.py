"""A refused request changed nothing of the contract it named: its `refusal` entry is about its
actor (the reference in its payload), never one of the contract's history that every party reads
(H39, H43 in docs/security.md); the operator's `dsc log --contract` still lists it."""

import json


def test_the_operators_log_of_a_contract_lists_the_refusals_naming_it(scen):
    cid = json.loads(scen.propose("total").stdout)["id"]
    assert scen("execute", cid, "--as", "bob").returncode == 4  # awaiting alice: refused
    assert scen("execute", cid[:8], "--as", "bob").returncode == 4
    log = scen("log", "--contract", cid, "--format", "json")
    assert log.returncode == 0, log.stderr
    entries = json.loads(log.stdout)
    refusals = [e for e in entries if e["kind"] == "refusal"]
    assert [e["payload"]["code"] for e in refusals] == ["awaiting_approval", "awaiting_approval"]
    assert all(e["contract"] is None and e["payload"]["contract"] == cid for e in refusals)
    assert [e["kind"] for e in entries if e["kind"] != "refusal"] == ["proposal"]
    other = json.loads(scen("log", "--kind", "refusal", "--agent", "alice", "--format", "json").stdout)
    assert other == []  # about bob, whose requests they were
