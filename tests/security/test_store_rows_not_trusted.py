"""Hole 5: the store's rows are not trusted at execution, and `dsc audit verify` sees their edits.

Each test plays someone who can write the escrow's SQLite database (but holds no private key):
they edit a cached column of a contract, a data element's row, an agent's key or the log, then
try to get data out. Execution must derive every fact from the proposal as approved (its
identity) and the signed log, and refuse; `dsc audit verify` must report the edit.
"""

import json

import pytest

from datastation.runtime.escrow import EscrowRefusal


def _released_to(attack, agent, cid):
    return [r for r in attack.world.store.releases(contract_id=cid) if r.recipient == agent]


def _execute_is_refused(attack, cid, agent):
    with pytest.raises(EscrowRefusal) as exc:
        attack.world.execute(cid, agent)
    return exc.value.code


def test_added_recipient_receives_nothing(attack, capsys):
    w = attack.world
    row = attack.approve_all(w.propose("joint_model", "bank1").id)
    attack.set_list(row.id, "recipients", ["auditor", "bank1", "bank2"])
    _execute_is_refused(attack, row.id, "auditor")
    _execute_is_refused(attack, row.id, "bank1")
    assert not _released_to(attack, "auditor", row.id) and attack.outbox("auditor") == []
    code, out = attack.audit_verify(capsys)
    assert code == 1, out


@pytest.mark.parametrize("edit_column", [True, False])
def test_dropped_source_agent_still_must_approve(attack, capsys, edit_column):
    w = attack.world
    row = w.propose("joint_model", "bank1")
    w.approve(row.id, "bank1")  # bank2 never approves
    if edit_column:
        attack.set_list(row.id, "source_agents", ["bank1"])
    attack.sql("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    code = _execute_is_refused(attack, row.id, "bank1")
    assert code == ("record_tampered" if edit_column else "awaiting_approval")
    assert w.store.releases(contract_id=row.id) == [] and attack.outbox("bank1") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_widened_inputs_do_not_widen_reads(attack, capsys):
    # peek_c is approved by bank1 for bank1.train; its function reads bank2.train through the API.
    w = attack.world
    row = attack.approve_all(w.propose("peek_c", "bank1").id)
    assert row.source_agents == ("bank1",)
    attack.set_list(row.id, "inputs", ["bank1.train", "bank2.train"])
    attack.set_meta(row.id, "call_inputs", ["bank1.train", "bank2.train"])
    attack.set_meta(row.id, "source_data", ["bank1.train", "bank2.train"])
    try:
        rep = w.execute(row.id, "bank1")
    except EscrowRefusal:
        rep = None
    assert rep is None or rep.status != "executed"
    assert w.store.releases(contract_id=row.id) == [] and attack.outbox("bank1") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_edited_kept_provenance_is_caught(attack, capsys):
    # pool comes from bank1.train and bank2.train; audit_count on it needs both banks.
    w = attack.world
    pooled = attack.approve_all(w.propose("pooled", "bank1").id)
    assert w.execute(pooled.id, "bank1").status == "executed"
    row = w.propose("audit_count", "auditor")
    assert row.source_agents == ("bank1", "bank2")
    w.approve(row.id, "bank1")
    attack.sql("UPDATE data SET provenance = ? WHERE key = 'pool'", (json.dumps(["bank1.train"]),))
    attack.set_list(row.id, "source_agents", ["bank1"])
    attack.set_meta(row.id, "source_data", ["bank1.train"])
    attack.sql("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    _execute_is_refused(attack, row.id, "auditor")
    assert attack.outbox("auditor") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_kept_provenance_edited_before_the_proposal(attack, capsys):
    # The edit comes first, so the proposal itself is computed from the edited row.
    w = attack.world
    pooled = attack.approve_all(w.propose("pooled", "bank1").id)
    assert w.execute(pooled.id, "bank1").status == "executed"
    attack.sql("UPDATE data SET provenance = ? WHERE key = 'pool'", (json.dumps(["bank1.train"]),))
    try:
        row = w.propose("audit_count", "auditor")
    except EscrowRefusal:
        row = None
    if row is not None:
        for a in row.source_agents:
            w.approve(row.id, a)
        if "bank2" not in row.source_agents:
            _execute_is_refused(attack, row.id, "auditor")
    assert attack.outbox("auditor") == []
    assert attack.audit_verify(capsys)[0] == 1


def _hash_of(attack, key):
    return attack.world.store.get_data(key).content_hash


def test_data_row_pointed_at_other_contents_of_the_same_owner(attack, capsys):
    w = attack.world
    row = attack.approve_all(w.propose("dump_train", "auditor").id)  # bank1 approves bank1.train
    attack.sql("UPDATE data SET content_hash = ? WHERE key = 'bank1.train'", (_hash_of(attack, "bank1.test"),))
    _execute_is_refused(attack, row.id, "auditor")
    assert attack.outbox("auditor") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_data_row_pointed_at_another_owners_contents(attack, capsys):
    w = attack.world
    row = attack.approve_all(w.propose("dump_train", "auditor").id)
    attack.sql("UPDATE data SET owner = 'bank2', content_hash = ? WHERE key = 'bank1.train'",
               (_hash_of(attack, "bank2.train"),))
    _execute_is_refused(attack, row.id, "auditor")
    assert attack.outbox("auditor") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_swapped_agent_key_forges_no_approval(attack, capsys):
    # mallory registers normally, then writes her public key into bank2's row and her
    # signature of the contract into an approval row of bank2.
    w = attack.world
    row = w.propose("joint_model", "bank1")
    w.approve(row.id, "bank1")
    w.agent("mallory")
    sig = w.escrow.approval_params("mallory", row.id)["signature"]
    pem = w.store.get_agent("mallory").public_key
    attack.sql("UPDATE agents SET public_key = ? WHERE name = 'bank2'", (pem,))
    attack.sql("INSERT INTO approvals (contract_id, agent, signature, via_policy, ts) VALUES (?, 'bank2', ?, NULL, 1.0)",
               (row.id, sig))
    attack.sql("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    _execute_is_refused(attack, row.id, "bank1")
    assert w.store.releases(contract_id=row.id) == []
    assert attack.audit_verify(capsys)[0] == 1


def test_edited_bundle_declarations_change_nothing(attack, capsys):
    # The stored .dsc text is edited so that bank2 is no longer an agent: bank2.train would
    # stop counting as an input, and bank2 as an owner who must approve.
    w = attack.world
    row = w.propose("joint_model", "bank1")
    w.approve(row.id, "bank1")
    src = row.meta["bundle"]["source"].replace('agent bank2 "Second Bank"\n', "")
    attack.set_meta(row.id, "bundle.source", src)
    attack.set_list(row.id, "source_agents", ["bank1"])
    attack.sql("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    _execute_is_refused(attack, row.id, "bank1")
    assert w.store.releases(contract_id=row.id) == []
    assert attack.audit_verify(capsys)[0] == 1


@pytest.mark.parametrize("edit", [
    "DELETE FROM audit",
    "DELETE FROM audit_head",
])
def test_emptied_log_fails_verification(attack, capsys, edit):
    attack.sql("DELETE FROM audit")
    attack.sql(edit)
    code, out = attack.audit_verify(capsys)
    assert code == 1, out


def test_fresh_escrow_log_starts_with_genesis(attack, capsys):
    first = next(iter(attack.world.store.audit_entries()))
    assert first.kind == "genesis" and first.payload["escrow_id"] == attack.world.escrow.ctx.escrow_id
    assert attack.audit_verify(capsys)[0] == 0


@pytest.mark.parametrize("edit", [
    # a contract's status moved by hand
    "UPDATE contracts SET status = 'approved' WHERE name = 'joint_model'",
    # an approval inserted with bank2's genuine signature, but not through the escrow
    "INSERT_APPROVAL",
    # a data element removed from the store only
    "DELETE FROM data WHERE key = 'bank2.test'",
    # an agent row removed
    "DELETE FROM agents WHERE name = 'auditor'",
])
def test_store_edits_fail_verification(attack, capsys, edit):
    w = attack.world
    row = w.propose("joint_model", "bank1")
    w.approve(row.id, "bank1")
    assert attack.audit_verify(capsys)[0] == 0
    if edit == "INSERT_APPROVAL":
        sig = w.escrow.approval_params("bank2", row.id)["signature"]
        attack.sql("INSERT INTO approvals VALUES (?, 'bank2', ?, NULL, 1.0)", (row.id, sig))
    else:
        attack.sql(edit)
    code, out = attack.audit_verify(capsys)
    assert code == 1, out


def test_release_row_edits_fail_verification(attack, capsys):
    w = attack.world
    row = attack.approve_all(w.propose("joint_model", "bank1").id)
    assert w.execute(row.id, "bank1").status == "executed"
    assert attack.audit_verify(capsys)[0] == 0
    attack.sql("DELETE FROM releases WHERE recipient = 'bank2'")
    assert attack.audit_verify(capsys)[0] == 1


def test_swapped_agent_key_cannot_sign_requests(attack, capsys):
    # With bank2's key replaced by hers in the agents table, mallory approves "as bank2".
    from datastation.runtime.escrow import APPROVE
    from datastation.runtime.keyring import Keyring
    from datastation.runtime.keys import make_request

    w = attack.world
    row = w.propose("joint_model", "bank1")
    w.approve(row.id, "bank1")
    w.agent("mallory")
    attack.sql("UPDATE agents SET public_key = ? WHERE name = 'bank2'", (w.store.get_agent("mallory").public_key,))
    mallory = Keyring(w.config.keyring_path).load("mallory")
    params = w.escrow.approval_params("mallory", row.id)
    try:
        w.escrow.approve(make_request("bank2", mallory, APPROVE, params, escrow=w.escrow.ctx.escrow_id))
    except EscrowRefusal:
        pass
    _execute_is_refused(attack, row.id, "bank1")
    assert w.store.releases(contract_id=row.id) == [] and attack.outbox("bank1") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_restored_policy_does_not_revive_a_withdrawn_approval(attack, capsys, tmp_path):
    # bank2's standing policy approves count_b2; bank2 then applies a policy that no longer does,
    # which withdraws the approval. The attacker puts back the old policy row and approval row.
    w = attack.world
    w.apply_policy("bank2")
    row = w.propose("count_b2", "auditor")
    assert w.store.get_contract(row.id).status == "approved"
    old_policy = attack.sql("SELECT owner, rules, source, updated FROM policies WHERE owner = 'bank2'")[0]
    old_approval = attack.sql("SELECT * FROM approvals WHERE contract_id = ?", (row.id,))[0]
    stricter = tmp_path / "stricter.dsc"
    stricter.write_text("policy bank2 {\n  allow schema on bank2.* to bank1\n}\n")
    w.apply_policy("bank2", stricter)
    assert w.store.get_contract(row.id).status == "pending" and w.store.approvals(row.id) == []
    attack.sql("UPDATE policies SET rules = ?, source = ? WHERE owner = 'bank2'", (old_policy[1], old_policy[2]))
    attack.sql("INSERT INTO approvals VALUES (?, ?, ?, ?, ?)", old_approval)
    attack.sql("UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    _execute_is_refused(attack, row.id, "auditor")
    assert attack.outbox("auditor") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_kept_result_pointed_at_another_kept_result(attack, capsys):
    # audit1 reads pool1 (from bank1's data only) with bank1's approval; the attacker points
    # pool1's row at pool12's contents, which come from bank2's data too.
    w = attack.world
    for name in ("pooled12", "pooled1"):
        c = attack.approve_all(w.propose(name, "bank1").id)
        assert w.execute(c.id, "bank1").status == "executed"
    row = attack.approve_all(w.propose("audit1", "auditor").id)
    assert row.source_agents == ("bank1",)
    assert _hash_of(attack, "pool1") != _hash_of(attack, "pool12")
    attack.sql("UPDATE data SET content_hash = ? WHERE key = 'pool1'", (_hash_of(attack, "pool12"),))
    _execute_is_refused(attack, row.id, "auditor")
    assert attack.outbox("auditor") == []
    assert attack.audit_verify(capsys)[0] == 1


def test_an_edited_function_record_runs_no_other_code(attack, capsys):
    # Execution loads each function by the row's `meta.functions` (origin, module, closure hash).
    # An editor of the store adds a module to the contract's bundle and points the record of
    # `fraud_model` at it, with that module's own hash: the unapproved code must not run (it did,
    # and its output was released, before the record was checked against the identity), and
    # `dsc audit verify` must say so.
    from datastation.contracts.functions import function_source_in_text
    from datastation.runtime.escrow.bundle import BUNDLE_ROOT

    w = attack.world
    row = attack.approve_all(w.propose("joint_model", "bank1").id)
    evil = "def fraud_model(train, label):\n    return {'predict': True, 'rows': [list(map(str, t)) for t in train]}\n"
    evil_hash = function_source_in_text(evil, BUNDLE_ROOT / "evil.py", "fraud_model", "user").sha256
    attack.set_meta(row.id, "bundle.modules", {**row.meta["bundle"]["modules"], "evil.py": evil})
    attack.set_meta(row.id, "functions", {**row.meta["functions"],
                                          "fraud_model": {**row.meta["functions"]["fraud_model"], "module": "evil.py",
                                                          "sha256": evil_hash}})
    assert _execute_is_refused(attack, row.id, "bank1") == "record_tampered"
    assert w.store.releases(contract_id=row.id) == [] and attack.outbox("bank1") == []
    code, out = attack.audit_verify(capsys)
    assert code == 1 and "meta.functions" in out


def test_a_function_record_edited_alone_is_seen_by_audit_verify(attack, capsys):
    w = attack.world
    row = attack.approve_all(w.propose("joint_model", "bank1").id)
    attack.set_meta(row.id, "functions.fraud_model.sha256", "0" * 64)
    assert _execute_is_refused(attack, row.id, "bank1") == "record_tampered"
    code, out = attack.audit_verify(capsys)
    assert code == 1 and "meta.functions" in out
