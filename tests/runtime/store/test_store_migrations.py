"""Migrations: from an empty database and from every older version, data preserved."""

import sqlite3

import pytest

from migration_seeds import SEED, check_migrated

from datastation.runtime.store import StoreError
from datastation.runtime.store import migrations
from datastation.runtime.store.sqlite import SQLiteStore

TABLES = {"agents", "data", "contracts", "approvals", "rejections", "policies", "executions", "releases",
          "audit", "kept", "app_state", "nonces", "audit_head", "contract_inputs", "schema_version", "settings",
          "bundles", "contract_parties", "audit_readers"}


def _tables(path):
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")} - {"sqlite_sequence"}
    finally:
        db.close()


def test_from_empty(tmp_path):
    path = tmp_path / "e.db"
    store = SQLiteStore(path)
    assert store.schema_version() == migrations.LATEST
    assert store.get_setting("audit.genesis") == "pending"  # a new store's log starts with a genesis entry
    store.close()
    assert _tables(path) == TABLES


def test_reopen_is_idempotent(tmp_path):
    path = tmp_path / "e.db"
    SQLiteStore(path).close()
    store = SQLiteStore(path)
    assert store.schema_version() == migrations.LATEST
    store.close()


@pytest.mark.parametrize("start", range(1, migrations.LATEST))
def test_from_each_older_version(tmp_path, start):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for version in range(1, start + 1):  # each version's rows written while the database is at it
        assert migrations.migrate(db, target=version) == version
        for sql in SEED.get(version, []):
            db.execute(sql)
    db.close()

    store = SQLiteStore(path)
    assert store.schema_version() == migrations.LATEST
    assert _tables(path) == TABLES
    check_migrated(store, start)
    store.close()


def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "new.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE schema_version SET version = 99")
    db.close()
    with pytest.raises(StoreError, match="99"):
        SQLiteStore(path)


def test_failed_migration_keeps_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "f.db"
    db = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(db, target=1)
    db.close()

    def broken(db):
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [migrations.MIGRATIONS[0], broken, *migrations.MIGRATIONS[2:]])
    with pytest.raises(RuntimeError):
        SQLiteStore(path)
    db = sqlite3.connect(path)
    assert migrations.current_version(db) == 1
    assert "half" not in _tables(path)
    db.close()


def test_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(path)


def test_v5_indexes_the_source_agents_of_stored_contracts(tmp_path):
    path = tmp_path / "v4.db"
    db = sqlite3.connect(path, isolation_level=None)
    for version in (1, 2, 3):
        migrations.migrate(db, target=version)
        for stmt in SEED[version]:
            db.execute(stmt)
    migrations.migrate(db, target=4)
    db.execute("INSERT INTO contracts (id, name, canonical, proposer, status, source_agents, created, updated)"
               " VALUES ('c2', 'other', '{}', 'bank1', 'pending', '[\"bank1\",\"bank2\"]', 3.0, 3.0)")
    db.close()
    store = SQLiteStore(path)
    assert [r.id for r in store.pending_for("bank2")] == ["c2"]
    assert [r.id for r in store.pending_for("bank1")] == ["c2"]  # c1: bank1 approved it
    assert store.pending_for("nobody") == []
    store.close()
