"""Writes sent later (`SQLStore._write_later`): PostgreSQL sends them with the transaction's next
statement that needs an answer, or with its commit, in one round trip; SQLite runs them at once.
Either way a transaction keeps all of its writes or none, a failed write or check refuses the
commit, a nested block that fails drops its writes that were not sent yet, and text reaches the
database exactly as written (the batch binds values on the client). On SQLite and on PostgreSQL."""

import pytest
from datastation.runtime import keys
from datastation.runtime.audit import AuditLog, verify_log
from datastation.runtime.store import AgentRow, ApprovalRow, Conflict, NotFound, ReplayError, StoreError, open_store
from datastation.runtime.store.base import AuditEntry


@pytest.fixture
def env(config):
    store = open_store(config)
    key = keys.generate_key()
    log = AuditLog(store, key)
    log.public = key.public_key()
    yield store, log
    store.close()


def kinds(store) -> list[str]:
    return [e.kind for e in store.audit_entries()]


def agents(store) -> list[str]:
    return [a.name for a in store.list_agents()]


def test_a_write_sent_with_the_commit_that_fails_leaves_nothing_of_the_transaction(env):
    store, log = env
    first = log.append("first")
    with pytest.raises((Conflict, StoreError)):
        with store.transaction():
            store.add_agent(AgentRow(name="a", public_key="P"))
            # an entry whose sequence number is taken: the log's primary key refuses it (on
            # PostgreSQL when the commit sends it, on SQLite at once)
            store.audit_insert(AuditEntry(seq=first.seq, ts=1.0, kind="x", actor=None, contract=None,
                                          payload={}, prev_hash="0" * 64, hash="1" * 64, signature="s"))
    assert agents(store) == [] and not store.in_transaction
    assert store.audit_head()[:2] == (first.seq, first.hash)
    assert verify_log(store, log.public).ok
    store.add_agent(AgentRow(name="b", public_key="P"))  # the store is usable
    assert agents(store) == ["b"]


def test_a_status_change_of_no_contract_is_refused_and_nothing_of_its_transaction_is_kept(env):
    store, _ = env
    with pytest.raises(NotFound):
        with store.transaction():
            store.add_agent(AgentRow(name="a", public_key="P"))
            store.set_contract_status("no-such-contract", "approved")
    assert agents(store) == []


def test_a_check_sent_with_the_commit_stops_it_and_every_write_after_it(env):
    """PostgreSQL sends the check waiting at the commit with it, checked by the server, which
    stops there: the writes sent with it (a bundle, a log entry, and the head record the commit's
    own hook writes after the check) are never committed, and the check raises its own error."""
    store, log = env
    first = log.append("first")
    from test_store_api import contract

    store.add_agent(AgentRow(name="bank1", public_key="P"))
    store.put_contract(contract(status="pending"))
    with pytest.raises(NotFound):
        with store.transaction():
            store.put_bundle('{"source": "before the check"}')
            log.append("before the check")  # its head record is written by the commit's hook
            store.set_contract_status("no-such-contract", "approved")  # waits for the commit
    assert kinds(store)[-1] == "first" and store.audit_head()[:2] == (first.seq, first.hash)
    assert store._all("SELECT count(*) FROM bundles")[0][0] == 0
    assert verify_log(store, log.public).ok
    with store.transaction():  # the store is usable, and a check that holds commits
        store.set_contract_status("c1", "approved")
        log.append("approved")
    assert store.get_contract("c1").status == "approved" and kinds(store)[-1] == "approved"


def test_a_replayed_nonce_is_refused_by_the_next_statement_at_the_latest(env):
    store, _ = env
    with store.transaction():
        store.use_nonce("a", "n" * 16, 1.0)
    with pytest.raises(ReplayError):
        with store.transaction():
            store.use_nonce("a", "n" * 16, 2.0)
            store.get_agent("a")  # PostgreSQL: the nonce is sent with this read, which refuses it
    with pytest.raises(ReplayError):
        with store.transaction():
            store.add_agent(AgentRow(name="a", public_key="P"))
            store.use_nonce("a", "n" * 16, 3.0)  # no read follows: the commit refuses it
    assert agents(store) == []


def test_a_refused_check_leaves_the_transaction_usable_and_the_write_that_would_carry_it_undone(env):
    store, _ = env
    from test_store_api import contract

    store.add_agent(AgentRow(name="bank1", public_key="P"))
    store.put_contract(contract(status="pending"))
    with store.transaction():
        store.use_nonce("a", "n" * 16, 1.0)
    with store.transaction():
        with pytest.raises(ReplayError):
            store.use_nonce("a", "n" * 16, 2.0)
            # PostgreSQL: the waiting check is sent first, alone, and the approval never
            store.add_approval(ApprovalRow(contract_id="c1", agent="bank1", signature="s"))
        with pytest.raises(NotFound):
            store.set_contract_status("no-such-contract", "approved")
            store.add_agent(AgentRow(name="x", public_key="P"))
        store.add_agent(AgentRow(name="y", public_key="P"))
    assert store.approvals("c1") == [] and agents(store) == ["bank1", "y"]


def test_a_write_queued_after_a_failed_check_is_never_written(env):
    """The caller catches the check's error and commits: what it queued after the check is not
    in the commit (red team session 14, F2: PostgreSQL had sent it behind the check)."""
    store, _ = env
    with store.transaction():
        with pytest.raises(NotFound):
            store.set_contract_status("no-such-contract", "approved")
            store.put_bundle('{"source": "x"}')
            store.get_agent("a")
        store.add_agent(AgentRow(name="y", public_key="P"))
    assert store._all("SELECT count(*) FROM bundles")[0][0] == 0
    assert agents(store) == ["y"]


def test_a_nested_block_that_fails_drops_its_writes_not_sent_yet(env):
    store, log = env
    from test_store_api import contract

    store.add_agent(AgentRow(name="bank1", public_key="P"))
    store.put_contract(contract(status="pending"))
    with store.transaction():
        store.add_agent(AgentRow(name="a", public_key="P"))
        with pytest.raises(RuntimeError), store.transaction():
            store.set_contract_status("c1", "approved")  # waits in the batch (PostgreSQL)
            log.append("undone")
            raise RuntimeError
        log.append("kept")
    assert store.get_contract("c1").status == "pending"
    assert kinds(store)[-1] == "kept" and "undone" not in kinds(store)
    assert "a" in agents(store)
    assert verify_log(store, log.public).ok


@pytest.mark.parametrize("text", [
    "it's", "a\\b", "'); DROP TABLE agents; --", "%s %(x)s ? $1", "naïve 東京 🙂 \u202e", "E'\\x41'", "\\'",
])
def test_text_in_a_batch_reaches_the_database_exactly_as_written(env, text):
    store, log = env
    with store.transaction():
        entry = log.append("note", actor=text, payload={"text": text, "nested": [text]})
        assert store.get_agent(text) is None  # PostgreSQL: the entry is sent with this read
        store.add_agent(AgentRow(name=text, public_key=text, display=text))
    got = [e for e in store.audit_entries() if e.seq == entry.seq][0]
    assert (got.actor, got.payload) == (text, {"text": text, "nested": [text]})
    assert store.get_agent(text) == AgentRow(name=text, public_key=text, display=text,
                                             created=store.get_agent(text).created)
    assert verify_log(store, log.public).ok


def test_a_transaction_that_runs_no_statement_commits_without_one(env, backend):
    store, _ = env
    if backend == "postgresql":
        sent = []
        real = store._db.execute
        store._db.execute = lambda *a, **k: sent.append(a[0]) or real(*a, **k)
        with store.transaction():
            pass
        store._db.execute = real
        assert sent == []
    else:
        with store.transaction():
            pass
    assert not store.in_transaction
