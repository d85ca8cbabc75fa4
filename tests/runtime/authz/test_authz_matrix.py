"""The authorization matrix: every lifecycle action by a wrong agent is refused with a stable code
and leaves no trace but one `refusal` audit entry; a request that does not authenticate (wrong
signature, unknown agent, replay, other action) is refused and leaves no trace at all in the log
(counted in memory only: anyone could otherwise grow the signed log)."""

import pytest

from datastation.runtime.escrow import APPROVE, EXECUTE, POLICY_APPLY, PROPOSE, REJECT, REVOKE, make_bundle, policy_params, propose_params
from datastation.runtime.keys import generate_key, make_request
from datastation.runtime.escrow import EscrowRefusal


def snapshot(store):
    contracts = store.list_contracts()
    return {
        "contracts": sorted((c.id, c.status) for c in contracts),
        "approvals": sorted((a.contract_id, a.agent, a.signature) for c in contracts for a in store.approvals(c.id)),
        "rejections": sorted((r.contract_id, r.agent) for c in contracts for r in store.rejections(c.id)),
        "executions": sorted((e.contract_id, e.status) for e in store.executions()),
        "releases": sorted((r.contract_id, r.recipient) for r in store.releases()),
        "policies": sorted((p.owner, p.rules) for p in store.list_policies()),
        "data": sorted((d.key, d.content_hash) for d in store.list_data()),
    }


def refused(world, code, action):
    """Run `action()`; it must be refused with `code`, changing nothing but one audit entry."""
    before, n = snapshot(world.store), world.store.audit_count()
    with pytest.raises(EscrowRefusal) as exc:
        action()
    assert exc.value.code == code, str(exc.value)
    assert str(exc.value)  # a clear message
    assert snapshot(world.store) == before
    entries = list(world.store.audit_entries())
    assert len(entries) == n + 1 and entries[-1].kind == "refusal"
    assert entries[-1].payload["code"] == code
    return exc.value


def refused_unaudited(world, code, action):
    """Run `action()`; refused with `code`, changing nothing, not even the audit log."""
    before, n = snapshot(world.store), world.store.audit_count()
    counted = world.escrow.ctx.unauthenticated.total[code]
    with pytest.raises(EscrowRefusal) as exc:
        action()
    assert exc.value.code == code, str(exc.value)
    assert str(exc.value)
    assert snapshot(world.store) == before and world.store.audit_count() == n
    assert world.escrow.ctx.unauthenticated.total[code] == counted + 1
    return exc.value


@pytest.fixture
def joint(world):
    return world.propose("joint_model", "bank1")


def approved(world, row):
    for a in row.source_agents:
        world.approve(row.id, a)
    return row


# ---------------------------------------------------------------- who may act


def test_non_proposer_cannot_propose(world):
    refused(world, "not_proposer", lambda: world.propose("joint_model", "bank2"))


def test_an_outsider_is_answered_as_for_an_unknown_id(world, joint):
    """auditor is party to joint_model neither as proposer, owner nor recipient: whatever it asks
    of the contract, the answer is the one an id nothing has gets (nothing of the contract in it)."""
    approved(world, joint)
    unknown = "f" * 64
    for act in (world.approve, world.reject, world.revoke, world.execute):
        got = [str(refused(world, "no_contract", lambda c=c: act(c, "auditor"))) for c in (joint.id, unknown)]
        assert got[0] == got[1].replace(unknown, joint.id) and "joint_model" not in got[0] and "bank" not in got[0]


def test_a_party_without_the_right_is_told_why(world):
    world.execute(approved(world, world.propose("pooled", "bank1")).id, "bank1")  # keeps `pool`
    audit = world.propose("audit_count", "auditor")  # auditor proposes and receives; owns no data
    refused(world, "not_source_agent", lambda: world.approve(audit.id, "auditor"))
    refused(world, "not_source_agent", lambda: world.reject(audit.id, "auditor"))


def test_stranger_cannot_revoke(world, joint):
    refused(world, "not_allowed", lambda: world.revoke(joint.id, "bank2"))  # bank2 has not approved


def test_non_recipient_cannot_execute(world):
    row = approved(world, world.propose("pooled", "bank1"))
    world.execute(row.id, "bank1")
    audit = approved(world, world.propose("audit_count", "auditor"))
    refused(world, "not_recipient", lambda: world.execute(audit.id, "bank1"))  # an owner, not a recipient


def test_keep_only_contract_is_executed_by_its_proposer_only(world):
    row = approved(world, world.propose("pooled", "bank1"))
    refused(world, "not_recipient", lambda: world.execute(row.id, "bank2"))


def test_policy_of_another_owner_cannot_be_applied(world):
    refused(world, "not_owner", lambda: world.apply_policy("bank1"))  # the file has only bank2's policy


def test_cannot_approve_twice(world, joint):
    world.approve(joint.id, "bank2")
    refused(world, "already_approved", lambda: world.approve(joint.id, "bank2"))


# ---------------------------------------------------------------- signatures


def test_forged_signature(world, joint):
    outsider = generate_key()
    params = {"contract": joint.id, "signature": "AAAA"}
    refused_unaudited(world, "bad_signature", lambda: world.escrow.approve(make_request("bank2", outsider, APPROVE, params, escrow=world.escrow.ctx.escrow_id)))


def test_wrong_key_signature(world, joint):
    bank1_key = world.escrow._key("bank1")  # bank1's key, claiming to be bank2
    params = world.escrow.approval_params("bank1", joint.id)
    refused_unaudited(world, "bad_signature", lambda: world.escrow.approve(make_request("bank2", bank1_key, APPROVE, params, escrow=world.escrow.ctx.escrow_id)))


def test_approval_signed_with_another_agents_key(world, joint):
    params = world.escrow.approval_params("bank1", joint.id)  # bank1's signature of the hash
    refused(world, "bad_approval", lambda: world.escrow.approve(world.escrow.sign_as("bank2", APPROVE, params)))


def test_unknown_agent(world, joint):
    key = generate_key()
    refused_unaudited(world, "unknown_agent", lambda: world.escrow.execute(make_request("mallory", key, EXECUTE, {"contract": joint.id}, escrow=world.escrow.ctx.escrow_id)))


def test_replayed_request(world, joint):
    req = world.escrow.sign_as("bank2", APPROVE, world.escrow.approval_params("bank2", joint.id))
    world.escrow.approve(req)
    refused_unaudited(world, "replay", lambda: world.escrow.approve(req))


def test_request_signed_for_another_action(world, joint):
    approved(world, joint)
    req = world.escrow.sign_as("bank1", REVOKE, {"contract": joint.id})
    refused_unaudited(world, "wrong_action", lambda: world.escrow.execute(req))


def test_tampered_request_params(world, joint):
    req = world.escrow.sign_as("bank2", REJECT, {"contract": joint.id, "reason": "no"})
    req.envelope["params"]["reason"] = "changed after signing"
    refused_unaudited(world, "bad_signature", lambda: world.escrow.reject(req))


# ---------------------------------------------------------------- approvals bound to content


@pytest.mark.parametrize(
    "file,old,new",
    [
        ("bank.dsc", 'label = "is_fraud")\n  to', 'label = "amount")\n  to'),  # an edited contract
        ("functions.py", "THRESHOLD = 0.5", "THRESHOLD = 0.1"),  # an edited function source
    ],
)
def test_old_approval_replayed_on_edited_contract(world, joint, file, old, new):
    old_sig = world.escrow.approval_params("bank2", joint.id)["signature"]
    world.approve(joint.id, "bank2")
    path = world.dsc.parent / file
    path.write_text(path.read_text().replace(old, new))
    world.revoke(joint.id, "bank1")
    edited = world.propose("joint_model", "bank1")
    assert edited.id != joint.id
    params = {"contract": edited.id, "signature": old_sig}
    refused(world, "bad_approval", lambda: world.escrow.approve(world.escrow.sign_as("bank2", APPROVE, params)))
    assert world.store.get_contract(edited.id).status == "pending"


# ---------------------------------------------------------------- state


def test_executing_before_all_approvals(world, joint):
    world.approve(joint.id, "bank1")
    refused(world, "awaiting_approval", lambda: world.execute(joint.id, "bank1"))


def test_deny_beats_allow(world):
    policy = world.dsc.parent / "policy.dsc"
    policy.write_text('use "functions.py"\n'
                      "policy bank2 {\n  allow any on bank2.* to any\n  deny fraud_model on bank2.train to any\n}\n")
    world.apply_policy("bank2", policy)
    row = world.propose("joint_model", "bank1")
    assert row.status == "denied"
    refused(world, "closed", lambda: world.approve(row.id, "bank1"))
    refused(world, "denied", lambda: world.execute(row.id, "bank1"))


def test_rejected_contract_cannot_run(world, joint):
    world.approve(joint.id, "bank1")
    world.reject(joint.id, "bank2")
    refused(world, "closed", lambda: world.approve(joint.id, "bank2"))
    refused(world, "rejected", lambda: world.execute(joint.id, "bank1"))


def test_revoke_after_execution(world, joint):
    approved(world, joint)
    world.execute(joint.id, "bank1")
    refused(world, "closed", lambda: world.revoke(joint.id, "bank1"))
    refused(world, "already_executed", lambda: world.execute(joint.id, "bank2"))


def test_unknown_contract(world):
    refused(world, "no_contract", lambda: world.approve("0" * 64, "bank2"))


def test_tampered_stored_approval_is_not_counted(world, joint):
    """An approval row whose signature does not verify (e.g. edited in the database) does not count."""
    import dataclasses

    approved(world, joint)
    a = [x for x in world.store.approvals(joint.id) if x.agent == "bank2"][0]
    world.store.remove_approvals(joint.id, "bank2")
    world.store.add_approval(dataclasses.replace(a, signature=world.escrow.approval_params("bank1", joint.id)["signature"]))
    refused(world, "awaiting_approval", lambda: world.execute(joint.id, "bank1"))


def test_changed_builtin_after_approval(world, joint, monkeypatch, tmp_path):
    """The identity covers stdlib sources too: a built-in edited after approval refuses the run."""
    from datastation.contracts import functions

    approved(world, joint)
    real = functions.stdlib_functions()
    edited = tmp_path / "tables.py"
    edited.write_text(real["rows"].read_text() + "\n\ndef rows(data):\n    return 0\n")  # a new `rows`
    monkeypatch.setattr(functions, "stdlib_functions", lambda: {**real, "rows": edited})
    refused(world, "identity_changed", lambda: world.execute(joint.id, "bank1"))
