"""SQLite backend of the `Store` (the embedded default): WAL journal, foreign keys, one transaction per
state change (`BEGIN IMMEDIATE`: one writer at a time). The queries are `sqlbase.SQLStore`'s."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterator

from . import migrations
from .base import Busy, Conflict, StoreError, StoreFull, check_storable, storable_rows
from .sqlbase import SQLStore
from ..crashpoints import crash_point


BUSY_SECONDS = 30.0  # how long a statement waits for another process's lock before the store is "busy"
BUSY_POLL = 0.002  # s between two attempts at the write lock while another process holds it
LOW_SPACE = 16 * 1024 * 1024  # free bytes below which an I/O error is put down to a full file system


class SQLiteStore(SQLStore):
    def __init__(self, path: str | os.PathLike, *, migrate: bool = True, synchronous: str = "FULL"):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not os.path.exists(self.path):  # SQLite gives its -wal/-shm files the same mode
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_SECONDS)
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
            if migrate:
                migrations.migrate(self._db, crash=crash_point)
        except sqlite3.DatabaseError as exc:
            raise self._failure(f"cannot open the escrow database {self.path}", exc) from None
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread whose transaction is open
        self._before_commit: list = []

    # -- plumbing ------------------------------------------------------------------
    def _failure(self, what: str, exc: sqlite3.Error) -> StoreError:
        """The error to raise: `what` failed with SQLite's message, and what SQLite does not say,
        that the file system holding the database is full (it reports a full disk as "disk I/O
        error" when the journal cannot grow): then a `StoreFull`."""
        text = f"{what}: {exc}"
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
                                                               sqlite3.SQLITE_CANTOPEN) or self.path == ":memory:":
            return StoreError(text)
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return StoreError(text)
        if free >= LOW_SPACE:
            return StoreError(text)
        return StoreFull(f"{text} (the file system holding {folder} has {free:,} bytes free: it is full; "
                         f"free some space)")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._db.close()

    def schema_version(self) -> int:
        with self._lock:
            return migrations.current_version(self._db)

    @property
    def in_transaction(self) -> bool:
        # only for the thread that opened it: another thread waits for the lock, it is not "in" it
        return self._depth > 0 and self._owner == threading.get_ident()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._clear_interrupted()
            if self._depth:
                # Nested: joins the outer transaction; a failing inner block undoes only itself.
                name = f"sp{self._depth}"
                self._db.execute(f"SAVEPOINT {name}")
                self._depth += 1
                head = self._tx_head
                try:
                    yield
                except BaseException:
                    self._savepoint_undone(head)  # the entries written since are undone
                    self._db.execute(f"ROLLBACK TO {name}")
                    self._db.execute(f"RELEASE {name}")
                    raise
                else:
                    self._db.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            crash_point("tx.begin")
            try:  # begun inside: an interrupt (Ctrl-C) just after BEGIN must not leave it open
                self._begin_immediate()
                self._open_tx_state()
                # with the write lock held no other connection commits until this one ends: what
                # `others_commits` answers is read once, here, not by each caller (a refused
                # release decision from memory runs no statement: `execution.decide`)
                self._tx_others = self._data_version()
                yield
                if self._aborted:
                    raise StoreError("the escrow database refused a statement of this transaction: "
                                     "nothing of it was written")
                for fn in self._before_commit:
                    fn()
                crash_point("tx.commit")
                try:
                    self._db.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    raise self._failure("the escrow database could not commit", exc) from None
                self._no_wait = False  # committed: what follows in `without_waiting` cannot be redone
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                raise
            finally:
                self._close_tx_state()
                self._tx_others = None
            crash_point("tx.committed")

    def _still_open(self) -> bool:
        return self._db.in_transaction

    def _end_leftover(self) -> None:
        # nothing of this store's is open when one begins: a transaction an interrupt left open on
        # the connection (its ROLLBACK cut short) is rolled back, not joined or failed on forever
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _begin_immediate(self) -> None:
        """Take the write lock, waiting up to `BUSY_SECONDS` for another process's transaction.

        SQLite's own busy handler sleeps ever longer between attempts (every 100 ms after the first
        third of a second), so a waiter kept missing the short gaps between the transactions of a
        long paged action in another process (`policy.apply`: 2.5 s instead of about a page);
        here the attempts are `BUSY_POLL` apart. The handler stays for every other statement."""
        self._end_leftover()
        try:
            self._db.execute("PRAGMA busy_timeout = 0")
            deadline = None
            while True:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                        raise self._failure("the escrow database cannot be written", exc) from None
                    if self._no_wait:
                        raise Busy("another process holds the escrow database's write lock") from None
                    deadline = deadline or time.monotonic() + BUSY_SECONDS
                    if time.monotonic() > deadline:
                        raise StoreError(f"the escrow database is busy: {exc}") from None
                time.sleep(BUSY_POLL)
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")

    def _begin_snapshot(self) -> None:
        # BEGIN DEFERRED: one consistent view for reads, without the write lock other processes wait for
        self._end_leftover()
        try:
            self._db.execute("BEGIN DEFERRED")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"the escrow database is busy: {exc}") from None

    def _end_snapshot(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("ROLLBACK")

    def before_commit(self, fn) -> None:
        if not self._depth:
            raise StoreError("before_commit() needs an open transaction")
        if fn not in self._before_commit:
            self._before_commit.append(fn)

    def _write(self, label: str, sql: str, params: tuple = (), *, refusable: bool = True) -> int:
        """Run one mutating statement inside a transaction (the current one or its own).

        A single statement is atomic by itself in SQLite, so inside a transaction it needs no
        savepoint, refusable or not.
        """
        check_storable(params)
        return self._run(label, lambda: self._db.execute(sql, params)).rowcount

    def _write_many(self, label: str, sql: str, rows, *, later: bool = False) -> None:
        rows = storable_rows(rows)
        self._run(label, lambda: self._db.executemany(sql, rows))

    def _insert_id(self, label: str, sql: str, params: tuple) -> int:
        check_storable(params)
        return int(self._run(label, lambda: self._db.execute(sql, params)).lastrowid)

    def _run(self, label: str, statement) -> sqlite3.Cursor:
        with self._lock:
            if not self._depth:
                with self.transaction():
                    return self._run(label, statement)
            try:
                cur = statement()
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"{label}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise self._failure(label, exc) from None
            crash_point(f"store.{label}")
            return cur

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        check_storable(params)
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._failure("reading the escrow database", exc) from None

    _tx_others: int | None = None  # `others_commits` as the open write transaction began

    def others_commits(self) -> int | None:
        # changes when another connection commits, never for this one's own commits
        with self._lock:
            if self._tx_others is not None and self.in_transaction:
                return self._tx_others
            return self._data_version()

    def _data_version(self) -> int | None:
        try:
            return self._db.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.DatabaseError:
            return None

    def _json_field_sql(self, field: str) -> tuple[str, tuple]:
        # json_valid first: a tampered, undecodable payload must not make the query fail
        return ("(CASE WHEN json_valid(payload) THEN json_extract(payload, ?) END)",
                ('$."' + field.replace('"', '') + '"',))
