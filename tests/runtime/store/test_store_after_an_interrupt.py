"""What an interrupt (Ctrl-C, an asynchronous exception) leaves behind in a long-lived process
does not stop the next transaction (red team session 14):

- P1, PostgreSQL: one that lands after a query was sent and before its answer was read leaves the
  command in progress, and every later query of that connection failed ("another command is
  already in progress") until the process restarted; one inside a transaction's cleanup can
  leave the transaction open on the server. The connection is replaced.
- P2, both: one inside a transaction's cleanup could leave the bookkeeping saying a transaction
  is open (`_depth` 1): every later transaction was a nested block of a dead one and the process
  refused every write. The bookkeeping is cleared; on SQLite a transaction left open on the
  connection is rolled back."""

import threading
import time

import pytest

from datastation.runtime.config import config_from_dict
from datastation.runtime.store import AgentRow, open_store
from pg_support import backend, postgres_url  # noqa: F401 - fixtures


@pytest.fixture
def store(tmp_path, postgres_url):
    s = open_store(config_from_dict({"store": {"url": postgres_url}}, tmp_path))
    yield s
    s.close()


def test_a_query_whose_answer_was_never_read_does_not_stop_the_next_transaction(store):
    store._db.pgconn.send_query(b"SELECT pg_sleep(0.05)")  # sent; the interrupt came before the answer
    with store.transaction():
        store.use_nonce("a", "n" * 16, time.time())
        store.add_agent(AgentRow(name="a", public_key="P"))
    assert [a.name for a in store.list_agents()] == ["a"]
    store._db.pgconn.send_query(b"SELECT 1")
    assert store.get_agent("a") is not None  # a read outside a transaction too


def test_a_transaction_left_open_on_the_server_is_rolled_back_not_joined(store):
    store._db.execute("BEGIN")  # the cleanup that would have rolled it back was interrupted
    store._db.execute("INSERT INTO agents (name, public_key, display, created) VALUES ('stray', 'P', '', 0)")
    with store.transaction():
        store.add_agent(AgentRow(name="a", public_key="P"))
    assert [a.name for a in store.list_agents()] == ["a"]


@pytest.fixture
def either(tmp_path, backend, request):  # noqa: F811 - `backend` is the fixture
    from pg_support import store_section

    s = open_store(config_from_dict({"store": store_section(request, backend)}, tmp_path))
    yield s
    s.close()


def test_bookkeeping_an_interrupted_cleanup_left_open_is_cleared_by_the_next_transaction(either):
    store = either
    store._depth, store._owner = 1, threading.get_ident()  # what an interrupt in its cleanup left
    with store.transaction():
        store.use_nonce("a", "n" * 16, time.time())
        store.add_agent(AgentRow(name="a", public_key="P"))
    assert not store.in_transaction
    assert [a.name for a in store.list_agents()] == ["a"]  # committed, not a block of a dead one
    store._depth, store._owner = 1, threading.get_ident()
    with store.snapshot():
        assert store.get_agent("a") is not None
    assert not store.in_transaction


def test_bookkeeping_of_another_thread_left_open_is_cleared_too(either):
    store = either
    store._depth, store._owner = 1, -1  # no thread holds the lock: no transaction can be open
    store.add_agent(AgentRow(name="a", public_key="P"))
    assert [a.name for a in store.list_agents()] == ["a"]


def test_a_sqlite_transaction_left_open_on_the_connection_is_rolled_back_not_joined(tmp_path):
    store = open_store(config_from_dict({}, tmp_path))
    try:
        store._db.execute("BEGIN IMMEDIATE")  # the ROLLBACK of its cleanup was interrupted
        store._db.execute("INSERT INTO agents (name, public_key, display, created) VALUES ('stray', 'P', '', 0)")
        with store.transaction():
            store.add_agent(AgentRow(name="a", public_key="P"))
        assert [a.name for a in store.list_agents()] == ["a"]
    finally:
        store.close()
