"""What a write transaction reads once: the log's head record and the mark of the entries that bind
agents' keys (PostgreSQL reads both in the round trip that begins the transaction); and a write
that runs without a savepoint and fails, which leaves a transaction that cannot be committed.
On SQLite and on PostgreSQL."""

import pytest
from datastation.runtime import keys
from datastation.runtime.audit import AuditLog, verify_log
from datastation.runtime.store import AgentRow, ApprovalRow, Conflict, StoreError, open_store


@pytest.fixture
def env(config):
    store = open_store(config)
    key = keys.generate_key()
    yield store, key, AuditLog(store, key), config
    store.close()


def reads_of(store, sql: str) -> list:
    """Count the statements `store` runs that read with `sql`."""
    seen = []
    original = store._all

    def counting(q, params=()):
        if q == sql:
            seen.append(params)
        return original(q, params)

    store._all = counting
    return seen


def test_the_head_is_read_at_most_once_per_transaction_and_afresh_in_the_next(env):
    store, key, log, config = env
    first = log.append("first")
    heads = reads_of(store, store._HEAD)
    with store.transaction():
        assert store.audit_head()[:2] == (first.seq, first.hash)
        assert store.audit_head()[:2] == (first.seq, first.hash)
    assert len(heads) <= 1  # PostgreSQL: none (read with BEGIN); SQLite: one
    other = open_store(config)  # another process
    try:
        theirs = AuditLog(other, key).append("theirs")
    finally:
        other.close()
    with store.transaction():
        assert store.audit_head()[:2] == (theirs.seq, theirs.hash)
        mine = log.append("mine")
    assert (mine.seq, mine.prev_hash) == (theirs.seq + 1, theirs.hash)
    assert verify_log(store, key.public_key()).ok


def test_a_head_record_written_directly_in_a_transaction_is_what_it_reads_next(env):
    store, _, log, _ = env
    first = log.append("first")
    with store.transaction():
        assert store.audit_head()[:2] == (first.seq, first.hash)
        store.set_audit_head(first.seq, "f" * 64, "sig")  # as a repair writes it: no entry of its own
        assert store.audit_head() == (first.seq, "f" * 64, "sig")
    assert store.audit_head() == (first.seq, "f" * 64, "sig")


def test_the_mark_read_in_a_transaction_counts_its_own_entries_and_drops_undone_ones(env):
    store, _, log, config = env
    kind = store._PREFETCHED_MARK
    log.append(kind, actor="a", payload={"agent": "a"})
    with store.transaction():
        before = store.audit_mark(kind)
        b = log.append(kind, actor="b", payload={"agent": "b"})
        after_b = store.audit_mark(kind)
        assert after_b == (before[0] + 1, b.seq, b.hash)
        with pytest.raises(RuntimeError), store.transaction():
            c = log.append(kind, actor="c", payload={"agent": "c"})
            assert store.audit_mark(kind) == (before[0] + 2, c.seq, c.hash)
            raise RuntimeError
        assert store.audit_mark(kind) == after_b
    assert store.audit_mark(kind) == after_b
    other = open_store(config)  # another process writes one: the next transaction sees it
    try:
        d = AuditLog(other, log.key).append(kind, actor="d", payload={"agent": "d"})
    finally:
        other.close()
    with store.transaction():
        assert store.audit_mark(kind) == (after_b[0] + 1, d.seq, d.hash)


def test_a_failed_write_run_without_a_savepoint_leaves_a_transaction_nothing_of_which_is_committed(env, backend):
    store, *_ = env
    with pytest.raises(StoreError) if backend == "postgresql" else _nothing():
        with store.transaction():
            store.add_agent(AgentRow(name="a", public_key="P"))
            with pytest.raises(StoreError):  # the contract is unknown (its foreign key): a Conflict
                # raised by the call on SQLite; PostgreSQL sends it with the next read, which raises
                store.add_approval(ApprovalRow(contract_id="nope", agent="a", signature="s"))
                store.get_agent("a")
    # PostgreSQL: the server refused every later statement, so the commit is refused and the agent
    # is not there; SQLite undoes only the statement (the transaction goes on)
    assert [a.name for a in store.list_agents()] == ([] if backend == "postgresql" else ["a"])
    assert not store.in_transaction
    store.add_agent(AgentRow(name="b", public_key="P"))  # the store is usable
    assert "b" in [a.name for a in store.list_agents()]


def test_a_duplicate_contract_is_refused_and_leaves_the_transaction_usable(env):
    # (an approval recorded twice is a guard the transaction cannot commit after: test_store_api)
    store, *_ = env
    from test_store_api import contract

    store.add_agent(AgentRow(name="bank1", public_key="P"))
    store.put_contract(contract())
    with store.transaction():
        store.add_approval(ApprovalRow(contract_id="c1", agent="bank1", signature="s"))
        with pytest.raises(Conflict):
            store.put_contract(contract())
        store.add_agent(AgentRow(name="bank2", public_key="P"))
    assert [(a.agent, a.signature) for a in store.approvals("c1")] == [("bank1", "s")]
    assert "bank2" in [a.name for a in store.list_agents()]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_signed_approval_on_postgresql_is_three_round_trips_without_a_savepoint(tmp_path, postgres_url,
                                                                                monkeypatch):
    """The round trips of one approval through the facade (a regression guard): the write lock with
    the nonce and the signer's key; the contract with its approvals; the approval (a guard), the
    log entry, the status change and the head record with the COMMIT, its checks checked by the
    server. 5 before session 15, 10 before session 14 (23 before session 13)."""
    import psycopg
    from harness import World

    from datastation.runtime.config import config_from_dict

    config = config_from_dict({"store": {"url": postgres_url}}, tmp_path)

    from datastation.runtime.escrow import APPROVE, PROPOSE, propose_params
    from datastation.runtime.escrow import make_bundle

    w = World(tmp_path / "w", config=config)
    try:
        w.agent("a", "b")
        w.data("a.t", b"x\n1\n")
        f = tmp_path / "c.dsc"
        f.write_text("agent a\nagent b\ndata a.t csv \"a.csv\"\ncontract c { by b compute rows(a.t) to b }\n")
        e = w.escrow
        row = e.propose(e.sign_as("b", PROPOSE, propose_params(make_bundle(f), "c"))).row
        request = e.sign_as("a", APPROVE, e.approval_params("a", row.id))
        sent = []
        real_execute, real_many = psycopg.Connection.execute, psycopg.Cursor.executemany
        monkeypatch.setattr(psycopg.Connection, "execute",
                            lambda self, q, *a, **k: sent.append(str(q)) or real_execute(self, q, *a, **k))
        monkeypatch.setattr(psycopg.Cursor, "executemany",
                            lambda self, q, *a, **k: sent.append(str(q)) or real_many(self, q, *a, **k))
        assert e.approve(request).status == "approved"
        monkeypatch.undo()
        assert len(sent) <= 3, sent
        assert not [q for q in sent if "SAVEPOINT" in q], sent
    finally:
        w.close()


def test_a_nested_block_that_cannot_be_undone_leaves_a_transaction_that_cannot_commit(tmp_path, postgres_url,
                                                                                     monkeypatch):
    """PostgreSQL: if rolling back to a nested block's savepoint fails (a broken connection), its
    writes may still be in the transaction, so its commit is refused: nothing of it is written."""
    from datastation.runtime.config import config_from_dict

    store = open_store(config_from_dict({"store": {"url": postgres_url}}, tmp_path))
    try:
        monkeypatch.setattr(store, "_undo", lambda savepoint: False)
        with pytest.raises(StoreError):
            with store.transaction():
                store.add_agent(AgentRow(name="a", public_key="P"))
                with pytest.raises(RuntimeError), store.transaction():
                    store.add_agent(AgentRow(name="b", public_key="P"))
                    raise RuntimeError
        monkeypatch.undo()
        assert store.list_agents() == [] and not store.in_transaction
    finally:
        store.close()
