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


def test_a_refused_batch_is_listed_under_the_contract_its_refused_item_named(world):
    # red team (session 12): a refused approve_many recorded no contract: `dsc log --contract`
    # missed it (the command line checks each item before it signs: sent here as a client would)
    import pytest

    from datastation.runtime.commands.log import _entries
    from datastation.runtime.escrow import APPROVE_MANY, EscrowRefusal

    joint = world.propose("joint_model", "bank1")
    world.approve(joint.id, "bank2")
    e = world.escrow
    with pytest.raises(EscrowRefusal):
        e.approve_many(e.sign_as("bank2", APPROVE_MANY, {"approvals": [e.approval_params("bank2", joint.id)]}))
    refusals = [x for x in _entries(world.store, joint.id, None) if x.kind == "refusal"]
    assert [(x.payload["action"], x.payload["code"], x.payload["contract"], x.contract) for x in refusals] == [
        ("contract.approve_many", "already_approved", joint.id, None)]


def test_a_reference_is_matched_as_the_escrow_matched_it():
    from datastation.runtime.commands.log import _named

    cid = "ab" * 32
    assert _named(cid, cid) and _named(cid[:4], cid) and not _named(cid[:3], cid)
    assert not _named(cid[:8].upper(), cid)  # the escrow compared it byte for byte: it named nothing
