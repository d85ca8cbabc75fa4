"""The lifecycle end to end on the bank fixture: propose, approve, policies, execute, keep."""

import json
from pathlib import Path

import pytest

from datastation.runtime.audit import verify_log
from datastation.runtime.escrow import EscrowRefusal


def approve_all(world, row):
    for a in row.source_agents:
        world.approve(row.id, a)
    return world.store.get_contract(row.id)


def test_propose_records_sources_and_bundle(world):
    row = world.propose("joint_model", "bank1")
    assert row.status == "pending"
    assert row.source_agents == ("bank1", "bank2")
    assert set(row.inputs) == {"bank1.train", "bank2.train", "bank1.test", "bank2.test"}
    assert row.meta["call_inputs"] == ["bank1.train", "bank2.train"]
    assert "functions.py" in row.meta["bundle"]["modules"]
    assert world.audit_kinds()[-1] == "proposal"


def test_approvals_complete_then_execute_releases(world):
    row = world.propose("joint_model", "bank1")
    assert world.approve(row.id, "bank1").status == "pending"
    assert world.approve(row.id, "bank2").status == "approved"
    rep = world.execute(row.id, "bank2")
    assert rep.status == "executed", rep.error
    assert [c.held for c in rep.conditions] == [True, True]
    assert sorted(r for r, _ in rep.releases) == ["bank1", "bank2"]
    for r, p in rep.releases:
        path = Path(p)
        assert path.parent.name == r and path.name.startswith("joint_model-" + row.id[:8])
        assert json.loads(path.read_bytes())["predict"] in (True, False)
    assert world.store.get_contract(row.id).status == "executed"
    kinds = world.audit_kinds()
    assert kinds.count("release") == 2 and "data_read" in kinds and kinds.count("condition") == 2
    assert verify_log(world.store, world.escrow.ctx.escrow_public_pem).ok


def test_propose_returns_the_row_as_stored(world):
    # propose does not read the row back unless a policy acted on it
    row = world.propose("joint_model", "bank1")
    assert row == world.store.get_contract(row.id) and type(row.status) is str and row.status == "pending"
    assert all(type(v) is list for v in (row.meta["call_inputs"], row.meta["source_data"]))


def test_approve_returns_the_row_as_stored(world):
    # approve does not read the row back: what it returns must be what a reader sees
    row = world.propose("joint_model", "bank1")
    first = world.approve(row.id, "bank1")  # still pending: one owner to go
    assert first == world.store.get_contract(row.id) and first.status == "pending"
    last = world.approve(row.id, "bank2")
    assert last == world.store.get_contract(row.id) and type(last.status) is str and last.status == "approved"
    assert last.updated == max(a.ts for a in world.store.approvals(row.id))


def test_nothing_is_released_twice(world):
    row = approve_all(world, world.propose("joint_model", "bank1"))
    world.execute(row.id, "bank1")
    with pytest.raises(EscrowRefusal) as exc:
        world.execute(row.id, "bank1")
    assert exc.value.code == "already_executed"
    assert len(world.store.releases(contract_id=row.id)) == 2


def test_failing_require_runs_nothing(world):
    src = world.dsc.read_text().replace("rows(bank1.train) >= 20", "rows(bank1.train) >= 2000")
    world.dsc.write_text(src)
    row = approve_all(world, world.propose("joint_model", "bank1"))
    rep = world.execute(row.id, "bank1")
    assert rep.status == "failed"
    assert rep.failed_condition.kind == "require" and rep.failed_condition.line == 21
    assert len(rep.conditions) == 1  # the ensure was never evaluated
    assert world.store.releases(contract_id=row.id) == []
    assert rep.reads == ["bank1.train"]  # only what the require read (`and` stops at the first false)


def test_failing_ensure_releases_nothing(world):
    fn = world.dsc.parent / "functions.py"
    fn.write_text(fn.read_text().replace('return float((test[label] == model["predict"]).mean())',
                                         'return 0.0 if "pooled" in model else float((test[label] == model["predict"]).mean())'))
    src = world.dsc.read_text().replace('compute fraud_model(train = [bank1.train, bank2.train], label = "is_fraud")',
                                        'compute pooled_model(train = [bank1.train, bank2.train], label = "is_fraud")')
    src = src.replace("except fraud_model,", "except pooled_model, fraud_model,")
    world.dsc.write_text(src)
    fn.write_text(fn.read_text() + '\n\ndef pooled_model(train: list, label: str) -> dict:\n'
                  '    return {"predict": True, "pooled": True}\n')
    row = approve_all(world, world.propose("joint_model", "bank1"))
    rep = world.execute(row.id, "bank1")
    assert rep.status == "failed" and rep.failed_condition.kind == "ensure"
    assert world.store.releases(contract_id=row.id) == []
    assert not (world.config.outbox_path / "bank1").exists()


def test_keep_makes_a_derived_element_with_provenance(world):
    pooled = approve_all(world, world.propose("pooled", "bank1"))
    rep = world.execute(pooled.id, "bank1")
    assert rep.status == "executed" and rep.kept == "pool" and rep.releases == []
    d = world.store.get_data("pool")
    assert d.derived and set(d.provenance) == {"bank1.train", "bank2.train"}
    # the auditor's contract on the kept result needs both banks' approval (provenance)
    row = world.propose("audit_count", "auditor")
    assert row.source_agents == ("bank1", "bank2")
    with pytest.raises(EscrowRefusal) as exc:
        world.execute(row.id, "auditor")
    assert exc.value.code == "awaiting_approval"
    approve_all(world, row)
    rep = world.execute(row.id, "auditor")
    assert rep.status == "executed" and rep.reads == ["pool"]


def test_kept_result_must_exist(world):
    with pytest.raises(EscrowRefusal) as exc:
        world.propose("audit_count", "auditor")
    assert exc.value.code == "no_kept"


def test_policy_apply_approves_pending_and_names_the_line(world, monkeypatch):
    policy = world.dsc.parent / "policy.dsc"
    policy.write_text('use "functions.py"\npolicy bank2 {\n  allow fraud_model on bank2.* to bank1, bank2\n'
                      '  allow rows on bank2.*\n  allow score on bank2.*\n}\n')
    row = world.propose("joint_model", "bank1")

    def listing(*args, **kwargs):  # red team H32: the owner's contracts are found without listing every one
        raise AssertionError("applying a policy listed every contract of the escrow")

    monkeypatch.setattr(world.store, "list_contracts", listing)
    applied = world.apply_policy("bank2", policy)
    assert [(name, d.effect, d.rule) for _, name, d in applied.decisions] == [
        ("joint_model", "allow", "policy.dsc:3: allow fraud_model on bank2.* to bank1, bank2")]
    approvals = {a.agent: a for a in world.store.approvals(row.id)}
    assert approvals["bank2"].via_policy.startswith("policy.dsc:3")
    world.approve(row.id, "bank1")
    assert world.store.get_contract(row.id).status == "approved"
    assert world.execute(row.id, "bank1").status == "executed"


def test_policy_applies_to_new_proposals_and_deny_blocks(world):
    policy = world.dsc.parent / "policy.dsc"
    policy.write_text('use "functions.py"\n'
                      "policy bank2 {\n  allow any on bank2.* to any\n  deny fraud_model on bank2.train to bank2\n}\n")
    world.apply_policy("bank2", policy)
    row = world.propose("joint_model", "bank1")
    assert row.status == "denied"
    assert world.store.rejections(row.id)[0].via_policy.startswith("policy.dsc:4")
    with pytest.raises(EscrowRefusal) as exc:
        world.approve(row.id, "bank1")
    assert exc.value.code == "closed"


def test_withdrawn_policy_withdraws_its_approval(world):
    policy = world.dsc.parent / "policy.dsc"
    policy.write_text("policy bank2 {\n  allow any on bank2.* to any\n}\n")
    world.apply_policy("bank2", policy)
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    assert world.store.get_contract(row.id).status == "approved"
    policy.write_text("policy bank2 {\n  allow schema on bank2.* to any\n}\n")
    applied = world.apply_policy("bank2", policy)
    assert [d.effect for _, _, d in applied.decisions] == ["withdrawn"]
    assert world.store.get_contract(row.id).status == "pending"


def test_reject_blocks_and_revoke(world):
    row = world.propose("joint_model", "bank1")
    assert world.reject(row.id, "bank2", "too risky").status == "rejected"
    assert world.store.rejections(row.id)[0].reason == "too risky"
    pooled = world.propose("pooled", "bank1")
    world.approve(pooled.id, "bank2")
    assert world.revoke(pooled.id, "bank2").status == "pending"  # an approver withdraws their approval
    assert world.revoke(pooled.id, "bank1").status == "revoked"  # the proposer withdraws the contract


def test_pending_for(world):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    assert [r.id for r in world.escrow.pending_for("bank2")] == [row.id]
    assert world.escrow.pending_for("bank1") == []


def test_execution_runs_the_approved_text_not_the_disk(world):
    row = approve_all(world, world.propose("joint_model", "bank1"))
    fn = world.dsc.parent / "functions.py"
    fn.write_text(fn.read_text().replace("def fraud_model(", "def fraud_model_gone("))  # edited after approval
    assert world.execute(row.id, "bank1").status == "executed"


def test_contract_using_data_blocks_its_removal(world):
    from datastation.runtime.escrow.data import remove_data

    world.propose("joint_model", "bank1")
    with pytest.raises(EscrowRefusal) as exc:
        remove_data(world.escrow.ctx, world.escrow.sign_as("bank1", "data.remove", {"key": "bank1.test"}))
    assert exc.value.code == "data_in_use"  # condition inputs count as used


def test_app_state_is_kept_scoped_and_audited(world):
    fn = world.dsc.parent / "functions.py"
    fn.write_text(fn.read_text() + '''

def counted(train: list, label: str) -> dict:
    from datastation.runtime.app_api import load_state, store_state

    n = load_state("runs", 0) + 1
    store_state("runs", n)
    return {"runs": n}
''')
    src = world.dsc.read_text() + '\ncontract count_runs { by bank1 compute counted(train = [bank1.train], label = "x") to bank1 }\n'
    world.dsc.write_text(src)
    row = approve_all(world, world.propose("count_runs", "bank1"))
    rep = world.execute(row.id, "bank1")
    assert rep.status == "executed"
    from datastation.runtime.app_state import AppState

    assert AppState(f"contract:{row.id}", world.store).load("runs") == 1
    assert "app_state" in world.audit_kinds()
