"""The verified decision index (escrow/decisions.py): built once, kept in step with the signed log,
in this process and across processes sharing one store; rows edited behind it are never trusted."""

import sqlite3

import pytest

from datastation.runtime.escrow import EXECUTE, Escrow, EscrowRefusal, execution


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
    # cache the entry as fully approved (as the server's warm-up does; an outsider's execute is
    # refused before any entry is built: H42)
    assert execution.warm(world.escrow.ctx, row.id)
    assert row.id in world.escrow.ctx.decisions.entries
    other.revoke(other.sign_as("bank2", "contract.revoke", {"contract": row.id}))
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    other.revoke(other.sign_as("bank1", "contract.revoke", {"contract": row.id}))
    assert _refused(world, row.id, "bank1") == "revoked"


def test_execution_in_another_process_is_seen(world, other):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    world.approve(row.id, "bank2")
    assert execution.warm(world.escrow.ctx, row.id)  # cached as fully approved
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
    # an "approval" entry written by hand (unsigned) for bank2: read back, it only invalidates the
    # entry; derived again, the contract's consent entries include one the escrow did not sign
    _sql(world, "INSERT INTO audit (seq, ts, kind, actor, contract, payload, prev_hash, hash, signature)"
                " VALUES (?, 0, 'approval', 'bank2', ?, '{\"agent\":\"bank2\"}', ?, 'f', 'x')", (seq + 1, row.id, h))
    _sql(world, "UPDATE audit_head SET seq = ?, hash = 'f' WHERE id = 1", (seq + 1,))
    assert _refused(world, row.id, "bank1") == "record_tampered"
    assert index.stats["catch_up_reads"] == 1 and row.id not in index.entries
    assert world.store.releases(contract_id=row.id) == []


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


# -- deciding from memory (no statement on the fast path; refusals confirmed; go-aheads re-checked) --

class _Stop(Exception):
    pass


@pytest.fixture
def counted(world, monkeypatch):
    """Counts of the store reads made *by the decision* (from the verified request to the verdict),
    and a switch that stops an execution right after a go-ahead (nothing runs)."""
    from datastation.runtime.escrow import execution

    calls = {"decision_state": 0, "audit_head": 0, "statements": 0}
    state = {"stop": False, "deciding": False}
    store = world.escrow.ctx.store

    def traced(_sql):  # every SQL statement the connection runs (SQLite's trace callback)
        calls["statements"] += state["deciding"]

    store._db.set_trace_callback(traced)
    for name in ("decision_state", "audit_head"):
        real = getattr(store, name)

        def counting(*a, _real=real, _name=name, **kw):
            calls[_name] += state["deciding"]
            return _real(*a, **kw)

        monkeypatch.setattr(store, name, counting)

    def probe(phase):
        state["deciding"] = phase == "verified"
        if phase == "decided" and state["stop"]:
            raise _Stop

    monkeypatch.setattr(execution, "PROBE", probe)
    calls["stop"] = state
    yield calls
    store._db.set_trace_callback(None)


def _decided(world, cid, agent, counted):
    """The outcome of one decision (stopped there) and the store reads it made."""
    before = {k: counted[k] for k in ("decision_state", "audit_head", "statements")}
    counted["stop"]["stop"] = True
    try:
        world.execute(cid, agent)
        outcome = "ran"
    except _Stop:
        outcome = "go-ahead"
    except EscrowRefusal as exc:
        outcome = exc.code
    finally:
        counted["stop"]["stop"] = False
    return outcome, {k: counted[k] - before[k] for k in before if k != "statements"}


def _statements(world, cid, agent, counted):
    """The outcome of one decision and the SQL statements run from the verified request to it."""
    before = counted["statements"]
    outcome = _decided(world, cid, agent, counted)[0]
    return outcome, counted["statements"] - before


def _fully_approved(world):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    world.approve(row.id, "bank2")
    return row


def test_warm_go_ahead_reads_nothing_and_refusal_reads_the_head_only_after_another_commit(world, other, counted):
    row = _fully_approved(world)
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"  # the status read once from the store
    assert _decided(world, row.id, "bank1", counted) == ("go-ahead", {"decision_state": 0, "audit_head": 0})
    pending = world.propose("pooled", "bank1")
    assert _decided(world, pending.id, "bank1", counted)[0] == "awaiting_approval"
    assert _decided(world, pending.id, "bank1", counted) == ("awaiting_approval",
                                                             {"decision_state": 0, "audit_head": 1})
    # no other connection committed since that head was read (SQLite's data_version): nothing read,
    # though the refusals themselves were logged, by this process
    assert _decided(world, pending.id, "bank1", counted) == ("awaiting_approval",
                                                             {"decision_state": 0, "audit_head": 0})
    with pytest.raises(EscrowRefusal):  # another process commits (the log entry of its refusal)
        other.approve(other.sign_as("bank1", "contract.approve", other.approval_params("bank1", row.id)))
    assert _decided(world, pending.id, "bank1", counted) == ("awaiting_approval",
                                                             {"decision_state": 0, "audit_head": 1})


def test_a_decision_from_memory_runs_no_statement(world, counted):
    row = _fully_approved(world)
    pending = world.propose("pooled", "bank1")
    for _ in range(2):  # entries built, the refusal confirmed against the head once
        _decided(world, row.id, "bank1", counted)
        _decided(world, pending.id, "bank1", counted)
    # whether another connection committed is read as the transaction begins, not by the decision
    assert _statements(world, pending.id, "bank1", counted) == ("awaiting_approval", 0)
    assert _statements(world, row.id, "bank1", counted) == ("go-ahead", 0)


def test_the_refusal_names_who_has_still_to_approve_as_approvals_arrive(world, other):
    row = world.propose("joint_model", "bank1")
    missing = []
    for approver in ("bank1", None, "bank2"):
        with pytest.raises(EscrowRefusal) as exc:
            world.execute(row.id, "bank1")
        missing.append([b for b in ("bank1", "bank2") if b in str(exc.value)])
        if approver == "bank1":
            world.approve(row.id, approver)
        elif approver == "bank2":  # in another process: the memory learns it from the log
            other.approve(other.sign_as("bank2", "contract.approve", other.approval_params("bank2", row.id)))
    assert missing == [["bank1", "bank2"], ["bank2"], ["bank2"]]
    assert world.execute(row.id, "bank1").status == "executed"


def test_a_refusal_remembered_as_confirmed_yields_to_an_approval_in_another_process(world, other, counted):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    for _ in range(3):  # confirmed against the store, then from memory alone
        assert _decided(world, row.id, "bank1", counted)[0] == "awaiting_approval"
    assert _decided(world, row.id, "bank1", counted)[1] == {"decision_state": 0, "audit_head": 0}
    other.approve(other.sign_as("bank2", "contract.approve", other.approval_params("bank2", row.id)))
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"
    assert world.execute(row.id, "bank1").status == "executed"


def test_revocation_in_another_process_stops_a_go_ahead_from_memory(world, other, counted):
    row = _fully_approved(world)
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"
    assert world.escrow.ctx.decisions.entries[row.id].status == "approved"  # memory would say go ahead
    other.revoke(other.sign_as("bank1", "contract.revoke", {"contract": row.id}))  # the proposer withdraws it
    assert _refused(world, row.id, "bank1") == "revoked"  # the store's answer, with its own code
    assert world.store.releases(contract_id=row.id) == []
    assert world.store.get_contract(row.id).status == "revoked"
    assert [e.kind for e in world.store.audit_entries(contract=row.id)].count("execution") == 0


def test_approval_revoked_in_another_process_is_not_released(world, other, counted):
    row = _fully_approved(world)
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"
    other.revoke(other.sign_as("bank2", "contract.revoke", {"contract": row.id}))  # bank2 withdraws its approval
    assert _refused(world, row.id, "bank1") == "awaiting_approval"
    assert world.store.releases(contract_id=row.id) == []


def test_refusal_from_memory_is_confirmed_against_another_process(world, other, counted):
    row = world.propose("joint_model", "bank1")
    world.approve(row.id, "bank1")
    assert _decided(world, row.id, "bank1", counted)[0] == "awaiting_approval"
    assert world.escrow.ctx.decisions.entries[row.id].status == "pending"  # memory would refuse
    other.approve(other.sign_as("bank2", "contract.approve", other.approval_params("bank2", row.id)))
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"
    assert world.execute(row.id, "bank1").status == "executed"


def test_approval_row_deleted_by_hand_after_a_memory_go_ahead_is_refused(world, counted):
    row = _fully_approved(world)
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"
    _sql(world, "DELETE FROM approvals WHERE contract_id = ? AND agent = 'bank2'", (row.id,))
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"  # memory: not final
    assert _refused(world, row.id, "bank1") == "record_tampered"  # checked in full before anything runs
    assert world.store.releases(contract_id=row.id) == []
    assert world.store.get_contract(row.id).status == "approved"


def test_status_edited_by_hand_after_a_memory_go_ahead_is_refused(world, counted):
    row = _fully_approved(world)
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"
    _sql(world, "UPDATE contracts SET status = 'rejected' WHERE id = ?", (row.id,))
    assert _refused(world, row.id, "bank1") == "rejected"
    assert world.store.releases(contract_id=row.id) == []


def test_own_revocation_is_seen_by_the_next_decision(world, counted):
    row = _fully_approved(world)
    assert _decided(world, row.id, "bank1", counted)[0] == "go-ahead"
    world.revoke(row.id, "bank1")
    assert _refused(world, row.id, "bank1") == "revoked"
    assert world.store.releases(contract_id=row.id) == []
