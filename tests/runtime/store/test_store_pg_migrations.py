"""PostgreSQL schema migrations: version for version the SQLite ones, from empty and from every
older version with data preserved, all or nothing per step, safe when two processes open at once."""

import sqlite3
import threading

import psycopg
import pytest

from migration_seeds import SEED, check_migrated

from datastation.runtime.store import StoreError, migrations, pg_migrations
from datastation.runtime.store.pg import PostgresStore, redact
from datastation.runtime.store.sqlite import SQLiteStore

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
    check_migrated(store, start)
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
