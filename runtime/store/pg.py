"""PostgreSQL backend of the `Store` (psycopg 3), for escrows whose processes share one database.

Chosen by a `postgresql://` URL in the store configuration. The queries are `sqlbase.SQLStore`'s,
the schema `pg_migrations`' (version for version SQLite's).

**Concurrency.** Every write transaction begins by taking the store's transaction-scoped
advisory lock (`pg_migrations.WRITE_LOCK`): state changes of all processes on one store take
turns, exactly as SQLite's `BEGIN IMMEDIATE` makes them, and each statement of a transaction
(READ COMMITTED) sees everything committed before the lock was granted. So an approval's
read-check-write (is it recorded? are all approvals in? set `approved`) never interleaves with
another's, no approval is lost, and the audit chain's head is extended by one writer at a time.
`swap_contract_status` is one conditional UPDATE besides: of two processes claiming an
execution, exactly one sees its row change. Serializable isolation would not do better here:
every state change appends to the one audit chain, so writers conflict on its head anyway, and
a transaction that signed entries and wrote files cannot be retried blindly. Reads outside a
transaction run on their own (autocommit) and never wait for the lock.

Inside a transaction each refusable write runs under a savepoint, so a failing statement (a
`Conflict`) undoes itself and leaves the transaction usable, as in SQLite. The writes no
constraint refuses (`refusable=False`: log entries, the head record, nonces, status changes)
run without one: a savepoint costs the server a subtransaction and psycopg a pipeline, about a
fifth of an approval. If one fails nonetheless, the transaction is marked and its commit refused.

A write transaction begins in one round trip that takes the write lock and reads the log's
head record and the mark of `agent_created` entries, which every signed request reads.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

from . import pg_migrations
from .base import Conflict, StoreError, check_storable, storable_rows
from .sqlbase import SQLStore
from ..crashpoints import crash_point

LOCK_TIMEOUT = "30s"  # how long a writer waits for the write lock before "the escrow database is busy"
_PLACEHOLDER = re.compile(r"\?")
# the kind is the code's constant, not data: the prefetching statement has no parameters, so
# the server runs all four in one round trip (simple query protocol)
_BEGIN = "; ".join(("BEGIN", pg_migrations.WRITE_LOCK, SQLStore._HEAD,
                    SQLStore._MARK.replace("?", f"'{SQLStore._PREFETCHED_MARK}'")))


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://…"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}"))


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - a dependency of the package
        raise StoreError("the PostgreSQL store needs psycopg 3: pip install 'psycopg[binary]'") from None
    return psycopg


class PostgresStore(SQLStore):
    # `audit_about` in seq order: the check of each entry forced to run per entry, through the
    # indexes (a LATERAL subquery with a LIMIT is not flattened). As an EXISTS the planner chose,
    # for spans over about 1,000 entries, to hash every contract of the agent joined with a
    # sequential scan of every contract of the escrow (red team, session 11: 180-290 ms per span
    # at 400,000 contracts).
    _SCAN = ("SELECT a.seq, a.ts, a.kind, a.actor, a.contract, a.payload, a.prev_hash, a.hash, a.signature"
             " FROM (SELECT * FROM audit WHERE seq > ? AND seq <= ?) a CROSS JOIN LATERAL ("
             "SELECT 1 FROM contracts c CROSS JOIN contract_parties p WHERE a.contract IS NOT NULL"
             " AND c.id = a.contract AND p.agent = ? AND p.created = c.created AND p.contract_id = c.id"
             " UNION ALL SELECT 1 FROM audit_readers r WHERE a.contract IS NULL AND r.agent = ? AND r.seq = a.seq"
             " LIMIT 1) m ORDER BY a.seq LIMIT ?")

    def __init__(self, url: str, *, migrate: bool = True, connect_timeout: int = 10):
        psycopg = self._pg = _psycopg()
        self.url = redact(url)
        self._conninfo, self._connect_timeout = url, connect_timeout
        self._sql: dict[str, str] = {}
        self._db = self._connect()
        try:
            if migrate:
                pg_migrations.migrate(self._db, crash=crash_point)
        except psycopg.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open the escrow database {self.url}: {_first_line(exc)}") from None
        except BaseException:
            self._db.close()
            raise
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None  # the thread whose transaction is open
        self._before_commit: list = []

    # -- plumbing ------------------------------------------------------------------
    def _connect(self):
        psycopg = self._pg
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=self._connect_timeout)
            conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            return conn
        except (psycopg.Error, ValueError) as exc:
            raise StoreError(f"cannot open the escrow database {self.url}: {_first_line(exc)}") from None

    def _retrying(self, fn):
        """`fn()` outside a transaction; when the server dropped the connection (a restart), once
        more on a new one (nothing was done on the lost one that could be done twice)."""
        try:
            return fn()
        except self._pg.OperationalError:
            if not self._db.broken:
                raise
        with contextlib.suppress(Exception):
            self._db.close()
        self._db = self._connect()
        return fn()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._db.close()

    def schema_version(self) -> int:
        with self._lock:
            return pg_migrations.current_version(self._db)

    @property
    def in_transaction(self) -> bool:
        # only for the thread that opened it: another thread waits for the lock, it is not "in" it
        return self._depth > 0 and self._owner == threading.get_ident()

    def _exec(self, sql: str, params: tuple | None = None):
        return self._db.execute(sql, params, prepare=False) if params is None else self._db.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        psycopg = self._pg
        with self._lock:
            if self._depth:
                # Nested: joins the outer transaction; a failing inner block undoes only itself.
                name = f"sp{self._depth}"
                try:
                    self._exec(f"SAVEPOINT {name}")
                except psycopg.Error as exc:
                    raise StoreError(f"the escrow database {self.url} is unavailable: {_first_line(exc)}") from None
                self._depth += 1
                head = self._tx_head
                try:
                    yield
                except BaseException:
                    if self._undo(name):
                        self._savepoint_undone(head)  # the entries written since are undone
                    else:  # the transaction is not usable again: its commit would be a silent rollback
                        self._aborted = True
                    raise
                else:
                    try:
                        self._exec(f"RELEASE SAVEPOINT {name}")
                    except psycopg.Error as exc:
                        raise StoreError(f"the escrow database {self.url} is unavailable: {_first_line(exc)}") from None
                finally:
                    self._depth -= 1
                return
            crash_point("tx.begin")
            try:  # begun inside: an interrupt (Ctrl-C) just after BEGIN must not leave it open
                begun = self._begin(_BEGIN)  # one round trip (no parameters: simple protocol)
                self._open_tx_state()
                self._prefetched(begun)
                yield
                if self._aborted:
                    raise StoreError("the escrow database refused a statement of this transaction: "
                                     "nothing of it was written")
                for fn in self._before_commit:
                    fn()
                crash_point("tx.commit")
                try:
                    self._exec("COMMIT")
                except psycopg.Error as exc:
                    raise StoreError(f"the escrow database could not commit: {_first_line(exc)}") from None
            except BaseException:
                self._rollback()
                raise
            finally:
                self._close_tx_state()
            crash_point("tx.committed")

    def _begin_snapshot(self) -> None:
        # a read-only REPEATABLE READ transaction: one state for every read, without the write lock
        # (writers of other processes go on; a write inside is refused by the server)
        self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _end_snapshot(self) -> None:
        self._rollback()

    def _prefetched(self, cur) -> None:
        """Take the head record and the mark `_BEGIN` read (its 3rd and 4th results)."""
        try:
            cur.nextset(), cur.nextset()
            self._begin_head = self._head_of(cur.fetchone())
            cur.nextset()
            self._tx_marks[self._PREFETCHED_MARK] = self._mark_of(cur.fetchone())
        except self._pg.Error as exc:
            raise StoreError(f"reading the escrow database: {_first_line(exc)}") from None

    def _begin(self, statement: str):
        """Begin a transaction (or snapshot) with `statement`, or the StoreError saying why not;
        the cursor of its results."""
        psycopg = self._pg
        try:
            return self._retrying(lambda: self._db.execute(statement))
        except psycopg.errors.LockNotAvailable:
            self._rollback()
            raise StoreError("the escrow database is busy (another process held its write lock "
                             f"for {LOCK_TIMEOUT})") from None
        except psycopg.Error as exc:
            self._rollback()
            raise StoreError(f"the escrow database {self.url} is unavailable: {_first_line(exc)}") from None

    def _rollback(self) -> None:
        with contextlib.suppress(self._pg.Error):
            self._exec("ROLLBACK")

    def _undo(self, savepoint: str) -> bool:
        """Roll back to `savepoint`; whether the transaction is usable again."""
        try:
            self._exec(f"ROLLBACK TO SAVEPOINT {savepoint}")
            self._exec(f"RELEASE SAVEPOINT {savepoint}")
            return True
        except self._pg.Error:
            return False

    def before_commit(self, fn) -> None:
        if not self._depth:
            raise StoreError("before_commit() needs an open transaction")
        if fn not in self._before_commit:
            self._before_commit.append(fn)

    def _q(self, sql: str) -> str:
        """The statement with PostgreSQL's placeholders (the shared SQL has no other `?` or `%`)."""
        q = self._sql.get(sql)
        if q is None:
            q = self._sql[sql] = _PLACEHOLDER.sub("%s", sql)
        return q

    def _run(self, label: str, statement, refusable: bool = True):
        with self._lock:
            if not self._depth:
                # a transaction of its own: a failure rolls all of it back, no savepoint needed
                with self.transaction():
                    return self._statement(label, statement, savepoint=False)
            return self._statement(label, statement, savepoint=refusable)

    def _statement(self, label: str, statement, *, savepoint: bool):
        psycopg = self._pg
        try:
            if savepoint:  # SAVEPOINT, the statement and RELEASE in one round trip
                with self._db.pipeline():
                    self._db.execute("SAVEPOINT stmt")
                    result = statement()
                    self._db.execute("RELEASE SAVEPOINT stmt")
            else:
                result = statement()
        except psycopg.Error as exc:
            if not (savepoint and self._undo("stmt")):
                self._aborted = True  # the server refuses every later statement; the commit is refused
            if isinstance(exc, psycopg.errors.IntegrityError):
                raise Conflict(f"{label}: {_first_line(exc)}") from None
            raise StoreError(f"{label}: {_first_line(exc)}") from None
        crash_point(f"store.{label}")
        return result() if callable(result) else result

    def _write(self, label: str, sql: str, params: tuple = (), *, refusable: bool = True) -> int:
        check_storable(params)

        def run():
            cur = self._db.execute(self._q(sql), params)
            return lambda: cur.rowcount
        return self._run(label, run, refusable)

    def _write_many(self, label: str, sql: str, rows, *, refusable: bool = True) -> None:
        rows = storable_rows(rows)

        def many():
            self._db.cursor().executemany(self._q(sql), rows)
        self._run(label, many, refusable)

    def _insert_id(self, label: str, sql: str, params: tuple) -> int:
        check_storable(params)

        def run():
            cur = self._db.execute(self._q(sql) + " RETURNING id", params)
            return lambda: int(cur.fetchone()[0])
        return self._run(label, run)

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        check_storable(params)
        with self._lock:
            try:
                if self._depth:
                    return self._db.execute(self._q(sql), params).fetchall()
                return self._retrying(lambda: self._db.execute(self._q(sql), params).fetchall())
            except self._pg.Error as exc:
                raise StoreError(f"reading the escrow database: {_first_line(exc)}") from None

    def _json_field_sql(self, field: str) -> tuple[str, tuple]:
        return "dsc_json_text(payload, ?)", (field,)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def database_exists(url: str) -> bool:
    """Whether the database of `url` holds an escrow store (without creating one)."""
    psycopg = _psycopg()
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            return pg_migrations.current_version(conn) > 0
    except (psycopg.Error, ValueError) as exc:
        raise StoreError(f"cannot open the escrow database {redact(url)}: {_first_line(exc)}") from None
