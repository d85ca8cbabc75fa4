"""The verified decision index (escrow/decisions.py): built once, kept in step with the signed log,
in this process and across processes sharing one store; rows edited behind it are never trusted."""

import sqlite3

import pytest

from datastation.runtime.escrow import EXECUTE, Escrow, EscrowRefusal


def _refused(world, cid, agent):
    with pytest.raises(EscrowRefusal) as exc:
        world.execute(cid, agent)
    return exc.value.code


@pytest.fixture
def other(world):
    """A second escrow process on the same store (its own context, index and connection)."""
    e = Escrow.open(world.config)
    yield e
    e.close()


def _exec_in(escrow, cid, agent):
    return escrow.execute(escrow.sign_as(agent, EXECUTE, {"contract": cid}))


def test_entry_built_once_then_updated_by_own_approvals(world):
    row = world.propose("joint_model", "bank1")
    index = world.escrow.ctx.decisions
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    assert index.stats["built"] == 1 and row.id in index.entries
    world.approve(row.id, "bank1")
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    assert index.stats["built"] == 1  # the approval updated the verified entry, nothing re-derived
    assert index.entries[row.id].missing() == ["bank2"]
    assert index.stats["catch_up_reads"] == 0  # every entry since was this process's own
    world.approve(row.id, "bank2")
    assert world.execute(row.id, "bank1").status == "executed"
    assert _refused(world, row.id, "bank1") == "already_executed"


def test_approval_in_another_process_is_seen(world, other):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    other.approve(other.sign_as("bank2", "contract.approve", other.approval_params("bank2", row.id)))
    assert world.escrow.ctx.decisions.stats["catch_up_reads"] == 0
    assert world.execute(row.id, "bank1").status == "executed"
    assert world.escrow.ctx.decisions.stats["catch_up_reads"] == 1


def test_revocation_in_another_process_is_seen(world, other):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    world.approve(row.id, "bank2")
    with pytest.raises(EscrowRefusal):  # cache the entry as fully approved (decided, then stopped)
        _exec_in(world.escrow, row.id, "auditor")
    assert row.id in world.escrow.ctx.decisions.entries
    other.revoke(other.sign_as("bank2", "contract.revoke", {"contract": row.id}))
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    other.revoke(other.sign_as("bank1", "contract.revoke", {"contract": row.id}))
    assert _refused(world, row.id, "bank1") == "revoked"


def test_execution_in_another_process_is_seen(world, other):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    world.approve(row.id, "bank2")
    with pytest.raises(EscrowRefusal):
        _exec_in(world.escrow, row.id, "auditor")
    assert _exec_in(other, row.id, "bank2").status == "executed"
    assert _refused(world, row.id, "bank1") == "already_executed"


def _sql(world, stmt, params=()):
    db = sqlite3.connect(world.config.store.path)
    with db:
        db.execute(stmt, params)
    db.close()


def test_forged_approval_row_after_caching_is_not_trusted(world):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    assert _refused(world, row.id, "bank1") == "awaiting_approval"  # entry cached
    sig = world.store.approvals(row.id)[0].signature
    _sql(world, "INSERT INTO approvals (contract_id, agent, signature, ts) VALUES (?, 'bank2', ?, 0)", (row.id, sig))
    _sql(world, "UPDATE contracts SET status = 'approved' WHERE id = ?", (row.id,))
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    world.escrow.ctx.decisions.drop_all()  # and derived again from scratch: the signature does not verify
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    assert world.store.releases(contract_id=row.id) == []


def test_forged_log_entries_only_drop_entries(world):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    index = world.escrow.ctx.decisions
    seq, h, _ = world.store.audit_head()
    # an "approval" entry written by hand (unsigned) for bank2: read back, it only invalidates
    _sql(world, "INSERT INTO audit (seq, ts, kind, actor, contract, payload, prev_hash, hash, signature)"
                " VALUES (?, 0, 'approval', 'bank2', ?, '{\"agent\":\"bank2\"}', ?, 'f', 'x')", (seq + 1, row.id, h))
    _sql(world, "UPDATE audit_head SET seq = ?, hash = 'f' WHERE id = 1", (seq + 1,))
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    assert index.stats["catch_up_reads"] == 1 and index.entries[row.id].missing() == ["bank2"]


def test_rolled_back_own_entries_are_not_applied(world):
    row = world.propose("joint_model", "bank1")
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    ctx = world.escrow.ctx

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with ctx.store.transaction():
            ctx.audit.append("approval", actor="bank1", contract=row.id, payload={"agent": "bank1"})
            ctx.audit.append("approval", actor="bank2", contract=row.id, payload={"agent": "bank2"})
            raise Boom
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    assert ctx.decisions.entries[row.id].missing() == ["bank1", "bank2"]
