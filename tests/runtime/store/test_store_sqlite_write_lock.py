"""The SQLite store's write lock against another process: a writer waits for it (attempts
`BUSY_POLL` apart, not SQLite's ever slower busy handler, which missed the short gaps between a
paged action's transactions), up to `BUSY_SECONDS`, then reports the store busy; every other
statement keeps SQLite's handler. Another process is played by a second connection."""

import sqlite3
import threading
import time

import pytest

from datastation.runtime.store import sqlite as sqlite_store
from datastation.runtime.store.base import StoreError


@pytest.fixture
def store(tmp_path):
    s = sqlite_store.SQLiteStore(tmp_path / "escrow.db")
    yield s
    s.close()


def hold_write_lock(path, seconds: float, started: threading.Event) -> threading.Thread:
    """Another writer: takes the write lock and keeps it `seconds`."""
    def run():
        other = sqlite3.connect(path, isolation_level=None, timeout=30)
        other.execute("BEGIN IMMEDIATE")
        started.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    t = threading.Thread(target=run)
    t.start()
    started.wait(10)
    return t


def busy_timeout(store) -> int:
    return store._db.execute("PRAGMA busy_timeout").fetchone()[0]


def test_a_writer_waits_for_another_processs_transaction(store):
    other = hold_write_lock(store.path, 0.3, threading.Event())
    with store.transaction():
        assert store._db.in_transaction
    other.join()
    assert busy_timeout(store) == int(sqlite_store.BUSY_SECONDS * 1000)  # every other statement: SQLite's handler
    assert not store._db.in_transaction


def test_a_writer_gives_up_after_busy_seconds_and_leaves_nothing_open(store, monkeypatch):
    monkeypatch.setattr(sqlite_store, "BUSY_SECONDS", 0.2)
    other = hold_write_lock(store.path, 1.5, threading.Event())
    with pytest.raises(StoreError, match="busy"):
        with store.transaction():
            pytest.fail("the transaction ran without the write lock")
    other.join()
    assert not store._db.in_transaction and busy_timeout(store) == 200
    with store.transaction():  # and the store works on
        pass


def test_the_write_lock_is_polled_not_left_to_sqlites_handler(store, monkeypatch):
    """While another writer holds the lock, the attempts are BUSY_POLL apart: counted here."""
    attempts = []
    real = store._db

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, *args):
            if sql == "BEGIN IMMEDIATE":
                attempts.append(time.monotonic())
            return real.execute(sql, *args)

    monkeypatch.setattr(store, "_db", Counting())
    other = hold_write_lock(store.path, 0.4, threading.Event())
    with store.transaction():
        pass
    other.join()
    # SQLite's handler makes one attempt from Python's side (it waits inside); the store's loop many
    assert len(attempts) > 20, len(attempts)
