"""The audit head inside a write transaction: kept in memory, each entry one INSERT, the head record
written once before the commit; a rolled-back savepoint or transaction leaves the head as it was.
On SQLite and on PostgreSQL."""

import pytest
from datastation.runtime import keys
from datastation.runtime.audit import AuditLog, verify_log
from datastation.runtime.store import ContractRow, open_store


@pytest.fixture
def env(config):
    store = open_store(config)
    key = keys.generate_key()
    yield store, key, AuditLog(store, key)
    store.close()


def head_writes(store):
    """Count the statements that write the head record (the store's `audit_head` label), sent at
    once (`_write`) or with the next (`_write_later`)."""
    writes, inside = [], []

    def spy(original):
        def counting(label, sql, params=(), **kw):
            if label == "audit_head" and not inside:  # not SQLite's `_write_later` calling `_write`
                writes.append(params)
            inside.append(1)
            try:
                return original(label, sql, params, **kw)
            finally:
                inside.pop()
        return counting

    store._write, store._write_later = spy(store._write), spy(store._write_later)
    return writes


def test_a_transaction_of_many_entries_writes_the_head_record_once(env):
    store, key, log = env
    log.append("first")
    writes = head_writes(store)
    with store.transaction():
        entries = [log.append("app_state", payload={"i": i}) for i in range(5)]
        assert store.audit_head()[:2] == (entries[-1].seq, entries[-1].hash)  # the transaction sees its own
    assert len(writes) == 1 and writes[0][1:3] == (entries[-1].seq, entries[-1].hash) and writes[0][3]  # signed
    assert store.audit_head()[:2] == (entries[-1].seq, entries[-1].hash)
    assert verify_log(store, key.public_key()).ok


def test_a_rolled_back_savepoint_gives_the_head_back(env):
    store, key, log = env
    with store.transaction():
        a = log.append("a")
        with pytest.raises(RuntimeError), store.transaction():
            log.append("b")
            raise RuntimeError
        assert store.audit_head()[:2] == (a.seq, a.hash)
        c = log.append("c")
    assert (c.seq, c.prev_hash) == (a.seq + 1, a.hash)
    assert [e.kind for e in store.audit_entries()][-2:] == ["a", "c"]
    assert verify_log(store, key.public_key()).ok


def test_a_rolled_back_transaction_leaves_the_head_record_as_it_was(env):
    store, key, log = env
    before = log.append("before")
    with pytest.raises(RuntimeError), store.transaction():
        log.append("undone")
        raise RuntimeError
    assert store.audit_head()[:2] == (before.seq, before.hash)
    after = log.append("after")
    assert (after.seq, after.prev_hash) == (before.seq + 1, before.hash)
    assert verify_log(store, key.public_key()).ok


def test_the_decision_state_read_in_a_transaction_sees_its_entries(env):
    store, _, log = env
    store.put_contract(ContractRow(id="c1", name="c1", canonical="{}", proposer="a", status="pending",
                                   inputs=("a.t",), recipients=("a",), source_agents=("a",), function_hashes={},
                                   source="", meta={}))
    with store.transaction():
        e = log.append("approval", contract="c1")
        assert store.decision_state("c1")[3] == (e.seq, e.hash)
    assert store.decision_state("c1")[3] == (e.seq, e.hash)


def test_verify_reads_the_entries_and_the_head_as_one_state(env, config):
    # another process commits an entry between verify's two reads (a live escrow): no false alarm
    store, key, log = env
    log.append("first")
    other = open_store(config)
    other_log = AuditLog(other, key)
    original = store.audit_raw

    def raw_then_another_commit():
        rows = original()
        other_log.append("meanwhile")
        return rows

    store.audit_raw = raw_then_another_commit
    try:
        result = verify_log(store, key.public_key())
    finally:
        store.audit_raw = original
        other.close()
    assert result.ok, result.describe()
    assert verify_log(store, key.public_key()).count == result.count + 1  # the next verify sees it
