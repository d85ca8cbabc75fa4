"""`Store.without_waiting`: a block that runs only if the store is free now, for a caller that
must never wait for a lock (the server's event loop). Its first transaction takes the write lock
only if no other process holds it, else `Busy` before anything is done; a block entered while
another thread of the process uses the store is `Busy` at once. On SQLite and on PostgreSQL."""

import sqlite3
import threading
import time

import pytest

from datastation.runtime.store import AgentRow, Busy, open_store
from pg_support import postgres_url  # noqa: F401 - fixture


@pytest.fixture
def store(config):
    s = open_store(config)
    yield s
    s.close()


def _holding_the_write_lock(config, backend):
    """Another process's connection that holds the store's write lock; `release()` when done."""
    if backend == "sqlite":
        other = sqlite3.connect(config.store.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        return lambda: (other.execute("ROLLBACK"), other.close())
    import psycopg

    from datastation.runtime.store import pg_migrations

    other = psycopg.connect(config.store.url, autocommit=True)
    other.execute("BEGIN")
    other.execute(pg_migrations.WRITE_LOCK)
    return lambda: (other.execute("ROLLBACK"), other.close())


def test_the_first_transaction_is_busy_at_once_while_another_process_holds_the_lock(store, config, backend):
    release = _holding_the_write_lock(config, backend)
    try:
        started = time.monotonic()
        with pytest.raises(Busy):
            with store.without_waiting():
                with store.transaction():
                    store.use_nonce("a", "n" * 16, 1.0)
                    store.get_agent("a")
        assert time.monotonic() - started < 5  # the lock's own wait is 30 s
    finally:
        release()
    with store.without_waiting():  # free now; nothing of the busy attempt was done
        with store.transaction():
            store.use_nonce("a", "n" * 16, 2.0)
            store.add_agent(AgentRow(name="a", public_key="P"))
        with store.transaction():  # a later transaction of the block waits as any other
            store.add_agent(AgentRow(name="b", public_key="P"))
    assert [a.name for a in store.list_agents()] == ["a", "b"]


def test_a_block_is_busy_while_another_thread_uses_the_store(store):
    inside, leave = threading.Event(), threading.Event()

    def long_transaction():
        with store.transaction():
            store.add_agent(AgentRow(name="long", public_key="P"))
            inside.set()
            leave.wait(30)

    t = threading.Thread(target=long_transaction)
    t.start()
    try:
        assert inside.wait(30)
        with pytest.raises(Busy):
            with store.without_waiting():
                store.add_agent(AgentRow(name="never", public_key="P"))
    finally:
        leave.set()
        t.join()
    assert [a.name for a in store.list_agents()] == ["long"]
    with store.without_waiting():
        store.add_agent(AgentRow(name="after", public_key="P"))
    assert "after" in [a.name for a in store.list_agents()]


def test_on_postgresql_only_the_lock_itself_is_waited_for_briefly(tmp_path, postgres_url):
    from datastation.runtime.config import config_from_dict

    store = open_store(config_from_dict({"store": {"url": postgres_url}}, tmp_path))
    try:
        with store.without_waiting():
            with store.transaction():
                store.get_agent("a")  # the transaction began, its write lock granted
                # every later statement of it waits as long as any other transaction's would
                assert store._all("SHOW lock_timeout") == [("30s",)]
    finally:
        store.close()


def test_every_transaction_until_one_commits_is_busy_rather_than_waiting(store, config, backend):
    """A refused action is rolled back and writes its refusal entry in a second transaction:
    that one must not wait long either (red team session 15, helper F1). Nothing of the block was
    committed, so the caller may run it again in a thread."""
    with pytest.raises(Busy):
        with store.without_waiting():
            with pytest.raises(RuntimeError), store.transaction():  # the refused action
                store.use_nonce("a", "n" * 16, 1.0)
                raise RuntimeError
            release = _holding_the_write_lock(config, backend)  # another process is quicker
            try:
                with store.transaction():  # the refusal's entry
                    store.add_agent(AgentRow(name="refusal", public_key="P"))
            finally:
                release()
    assert store.list_agents() == []


def test_once_a_transaction_committed_the_later_ones_wait(store, config, backend):
    with store.without_waiting():
        with store.transaction():
            store.add_agent(AgentRow(name="done", public_key="P"))
        holding = threading.Event()

        def hold_briefly():
            release = _holding_the_write_lock(config, backend)
            holding.set()
            time.sleep(0.5)
            release()

        t = threading.Thread(target=hold_briefly)
        t.start()
        assert holding.wait(30)
        with store.transaction():  # cannot be run again elsewhere: it waits for the lock
            store.add_agent(AgentRow(name="after", public_key="P"))
        t.join()
    assert [a.name for a in store.list_agents()] == ["after", "done"]
