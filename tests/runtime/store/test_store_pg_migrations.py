"""PostgreSQL schema migrations: version for version the SQLite ones, from empty and from every
older version with data preserved, all or nothing per step, safe when two processes open at once."""

import sqlite3
import threading

import psycopg
import pytest

from datastation.runtime.store import StoreError, migrations, pg_migrations
from datastation.runtime.store.pg import PostgresStore, redact
from datastation.runtime.store.sqlite import SQLiteStore

SEED = {  # rows written at each older version, with the SQL valid at that version
    1: [
        "INSERT INTO agents VALUES ('bank1', 'First Bank', 'PEM', 1.0)",
        "INSERT INTO data VALUES ('bank1.train', 'bank1', 'csv', 'h1', '{\"a\":\"int\"}', NULL, 0, '[]', 1.0)",
        "INSERT INTO contracts VALUES ('c1', 'joint', '{}', 'src', '{}', 'bank1', 'pending', '[\"bank1.train\"]',"
        " '[\"bank1\"]', '[\"bank1\"]', 1.0, 1.0)",
        "INSERT INTO approvals VALUES ('c1', 'bank1', 'sig', NULL, 2.0)",
    ],
    2: [
        "INSERT INTO app_state VALUES ('s', 'k', '[1,2]', 1.0)",
        "INSERT INTO nonces VALUES ('bank1', 'n1', 1.0)",
    ],
    3: [
        "INSERT INTO executions (contract_id, actor, status, started, finished, detail)"
        " VALUES ('c1', 'bank1', 'executed', 1.0, 2.0, '{}')",
        "INSERT INTO releases VALUES ('c1', 'bank1', '/out/r.json', 'h2', 1, 2.0)",
        "INSERT INTO audit VALUES (1, 1.0, 'agent_created', 'bank1', NULL, '{}', '0', 'h', 's')",
    ],
    6: [  # a contract keeping its result as `pool` (found by the `kept_as` column of version 7)
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated) VALUES ('k1', 'keeper', '{}', 'src', '{}', 'bank1', 'approved',"
        " '[\"bank1.train\"]', '[]', '[\"bank1\"]', '{\"kept_as\":\"pool\"}', 3.0, 3.0)",
    ],
    7: [  # a contract whose parties are three different agents, one row's lists not JSON (back-filled
        # into the contract_parties of version 8)
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated, kept_as) VALUES ('p1', 'pooled', '{}', 'src', '{}', 'lab', 'pending',"
        " '[\"bank1.train\"]', '[\"insurer\"]', '[\"bank1\"]', '{}', 4.0, 4.0, NULL)",
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated, kept_as) VALUES ('p2', 'mangled', '{}', 'src', '{}', 'lab', 'pending',"
        " '[]', 'not json', '{\"bank1\": 1}', '{}', 5.0, 5.0, NULL)",
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated, kept_as) VALUES ('p3', 'nested', '{}', 'src', '{}', 'lab', 'pending',"
        " '[]', '[[\"dave\"]]', '[\"insurer\", {}]', '{}', 6.0, 6.0, NULL)",
        "INSERT INTO audit VALUES (2, 2.0, 'proposal', 'lab', 'p1', '{}', 'h', 'h2', 's')",
        "INSERT INTO audit VALUES (3, 3.0, 'data_add', 'admin', NULL, '{\"owner\":\"insurer\"}', 'h2', 'h3', 's')",
        "INSERT INTO audit VALUES (4, 4.0, 'app_state', 'lab', NULL, 'not json', 'h3', 'h4', 's')",
    ],
}


def connect(url):
    return psycopg.connect(url, autocommit=True)


def pg_columns(url):
    with connect(url) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                            " WHERE table_schema = current_schema()").fetchall()
        indexes = conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                               " AND indexname NOT LIKE '%_pkey'").fetchall()
    return {(t, c) for t, c in rows}, {i for (i,) in indexes}


def sqlite_columns(path):
    db = sqlite3.connect(path)
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if t != "sqlite_sequence"]
        cols = {(t, r[1]) for t in tables for r in db.execute(f"PRAGMA table_info({t})")}
        indexes = {i for (i,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                            " AND name NOT LIKE 'sqlite_autoindex%'")}
    finally:
        db.close()
    return cols, indexes


def test_same_versions_and_schema_as_sqlite(tmp_path, postgres_url):
    assert pg_migrations.LATEST == migrations.LATEST
    store = PostgresStore(postgres_url)
    assert store.schema_version() == pg_migrations.LATEST
    assert store.get_setting("audit.genesis") == "pending"  # a new store's log starts with a genesis entry
    store.close()
    SQLiteStore(tmp_path / "e.db").close()
    assert pg_columns(postgres_url) == sqlite_columns(tmp_path / "e.db")


def test_reopen_is_idempotent(postgres_url):
    PostgresStore(postgres_url).close()
    store = PostgresStore(postgres_url)
    assert store.schema_version() == pg_migrations.LATEST
    store.close()


@pytest.mark.parametrize("start", range(1, pg_migrations.LATEST))
def test_from_each_older_version(postgres_url, start):
    with connect(postgres_url) as conn:
        for version in range(1, start + 1):  # each version's rows written while the database is at it
            assert pg_migrations.migrate(conn, target=version) == version
            for sql in SEED.get(version, []):
                conn.execute(sql)

    store = PostgresStore(postgres_url)
    assert store.schema_version() == pg_migrations.LATEST
    assert store.get_agent("bank1").display == "First Bank"
    d = store.get_data("bank1.train")
    assert (d.inferred_schema, d.size) == ({"a": "int"}, 0)
    c = store.get_contract("c1")
    assert c.meta == {} and c.inputs == ("bank1.train",)
    assert [x.id for x in store.contracts_using("bank1.train")] == ["c1"]  # contract_inputs back-filled
    assert [a.agent for a in store.approvals("c1")] == ["bank1"]
    if start >= 2:
        assert store.get_state("s", "k") == [1, 2]
    if start >= 3:
        (rel,) = store.releases(contract_id="c1")
        assert (rel.content_hash, rel.file_hash, rel.execution_id) == ("h2", None, 1)
        assert store.get_setting("audit.genesis") is None  # an older store's log keeps its history
    if start >= 6:
        assert [r.id for r in store.contracts_keeping("pool", ("approved",))] == ["k1"]  # kept_as back-filled
    if start >= 7:  # contract_parties back-filled: each party finds the contracts it may read
        assert [r.id for r in store.contracts_of("lab")] == ["p1", "p2", "p3"]  # p3's lists hold a list: no crash
        assert [r.id for r in store.contracts_of("insurer")] == ["p1", "p3"]
        assert store.contracts_of("dave") == []
        # audit_readers back-filled: the parties of each entry's contract, the readers of the others
        assert [e.seq for e in store.audit_about("insurer")] == [2, 3]
        assert [e.seq for e in store.audit_about("lab")] == [2, 4]
        assert [e.seq for e in store.audit_about("bank1")] == [1, 2]
        assert store.audit_about("admin", after_seq=2) == [e for e in store.audit_entries() if e.seq == 3]
        assert [r.id for r in store.contracts_of("bank1")] == ["c1", "k1", "p1"]  # not p2: its lists name no one
        assert [r.id for r in store.contracts_of("bank1", status="approved")] == ["k1"]
        assert store.contracts_of("nobody") == []
    store.close()


def test_newer_database_is_refused(postgres_url):
    PostgresStore(postgres_url).close()
    with connect(postgres_url) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="99"):
        PostgresStore(postgres_url)


def test_failed_migration_keeps_previous_version(postgres_url, monkeypatch):
    with connect(postgres_url) as conn:
        pg_migrations.migrate(conn, target=1)

    def broken(conn):
        conn.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr(pg_migrations, "MIGRATIONS", [pg_migrations.MIGRATIONS[0], broken, *pg_migrations.MIGRATIONS[2:]])
    with pytest.raises(RuntimeError):
        PostgresStore(postgres_url)
    with connect(postgres_url) as conn:
        assert pg_migrations.current_version(conn) == 1
        assert conn.execute("SELECT to_regclass('half')").fetchone()[0] is None  # DDL rolled back too


def test_connections_opening_a_new_store_at_once_migrate_it_once(postgres_url):
    errors, stores = [], []

    def open_one():
        try:
            stores.append(PostgresStore(postgres_url))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {s.schema_version() for s in stores} == {pg_migrations.LATEST}
    assert stores[0].get_setting("audit.genesis") == "pending"
    for s in stores:
        s.close()


def test_unreachable_server_is_a_store_error_without_the_password():
    with pytest.raises(StoreError, match="cannot open the escrow database") as exc:
        PostgresStore("postgresql://someone:s3cret@127.0.0.1:1/nothing", connect_timeout=2)
    assert "s3cret" not in str(exc.value)
    assert redact("postgresql://u:p@h:5/d?x=1") == "postgresql://u:***@h:5/d?x=1"
    assert redact("postgresql://u@h/d") == "postgresql://u@h/d"


def test_a_dropped_connection_is_opened_again(postgres_url):
    """A server restart between transactions costs nothing; within one, the change is refused."""
    from datastation.runtime.store import AgentRow

    store = PostgresStore(postgres_url)
    store.add_agent(AgentRow(name="a", public_key="P"))
    pid = store._db.info.backend_pid
    with connect(postgres_url) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    assert store.get_agent("a").public_key == "P"  # reconnected
    store.add_agent(AgentRow(name="b", public_key="P"))
    with pytest.raises(StoreError):
        with store.transaction():
            store.add_agent(AgentRow(name="c", public_key="P"))
            with connect(postgres_url) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (store._db.info.backend_pid,))
            store.add_agent(AgentRow(name="d", public_key="P"))
    assert [a.name for a in store.list_agents()] == ["a", "b"]
    store.close()
