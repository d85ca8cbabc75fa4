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
constraint refuses (`refusable=False`: status swaps, contracts and approvals with their
`ON CONFLICT` clause) run without one: a savepoint costs the server a subtransaction and psycopg
a pipeline. If one fails nonetheless, the transaction is marked and its commit refused.

**Round trips.** A transaction's statements wait in a batch until one needs an answer: the
write lock with the head record and the mark (`_BEGIN_BLOCK`) are sent with the transaction's
first read, and the writes whose row count no caller reads (`_write_later`: log entries, the
head record, status changes, index rows, bundles, nonces, approvals) with its next read, or with
its commit. A checked write (`_RowCheck`) is sent before any later write (`_settle`); at the
commit it goes with the COMMIT, checked by the server (`_checked_by_server`). A batch
goes as one query string of the simple protocol, its values bound by psycopg on the client
(`ClientCursor.mogrify`), so the server runs it in one round trip and stops at the first
statement that fails: a failed write sent with the COMMIT leaves nothing committed. Each round
trip costs this process system calls and psycopg's work, under the interpreter's lock that the
server's event loop needs too (bench/RESULTS.md, session 14).
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

from . import pg_migrations
from .base import Busy, Conflict, StoreError, check_storable, storable_rows
from .sqlbase import SQLStore
from ..crashpoints import crash_point

LOCK_TIMEOUT = "30s"  # how long a writer waits for the write lock before "the escrow database is busy"
QUICK_LOCK_WAIT = "20ms"  # how long the first transaction of `without_waiting` waits for it before `Busy`
_PLACEHOLDER = re.compile(r"\?")
# what begins a write transaction, sent with its first statement that needs an answer (the kind
# is the code's constant, not data)
_BEGIN_BLOCK = ("BEGIN", pg_migrations.WRITE_LOCK, SQLStore._HEAD,
                SQLStore._MARK.replace("?", f"'{SQLStore._PREFETCHED_MARK}'"))
# the same, waiting for the lock `QUICK_LOCK_WAIT` at most (`without_waiting`): another worker's
# approval holds it a millisecond or two, a long transaction longer (then `Busy`, and the server
# runs nothing after it)
_QUICK_BEGIN_BLOCK = (_BEGIN_BLOCK[0], f"SET LOCAL lock_timeout = '{QUICK_LOCK_WAIT}'", _BEGIN_BLOCK[1],
                      f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'", *_BEGIN_BLOCK[2:])


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
        self._batch: list[tuple[str, Callable | None]] = []  # statements not sent yet, what to take of each result
        self._begun = False  # a transaction block is open on the server (BEGIN was sent)
        self._checked = False  # the batch holds a write with a check of its row count
        self._committing = False  # the transaction's body is done: its commit hooks run
        self._begin_len = len(_BEGIN_BLOCK)  # the statements that begin the open transaction
        self._binder = None  # the ClientCursor that binds a batch's values (of the current connection)

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
        if self._db.info.transaction_status != self._pg.pq.TransactionStatus.IDLE:
            self._reconnect()  # see `_reconnect`
        try:
            return fn()
        except self._pg.OperationalError:
            if not self._db.broken:
                raise
        self._reconnect()
        return fn()

    def _reconnect(self) -> None:
        """A new connection in place of the current one. Also for one that is not idle where
        nothing of this store's can be open (`_retrying`): an interrupt (Ctrl-C) that landed after
        a query was sent and before its answer was read leaves the command in progress, and every
        later query on that connection failing; one inside a transaction's cleanup can leave the
        transaction open on the server. Closing it ends both (the server rolls back)."""
        with contextlib.suppress(Exception):
            self._db.close()
        self._db = self._connect()

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
            self._clear_interrupted()
            if self._depth:
                # Nested: joins the outer transaction; a failing inner block undoes only itself.
                name = f"sp{self._depth}"
                try:  # sent with the batch before it: what waits there is the outer block's
                    self._settle()
                    self._send([(f"SAVEPOINT {name}", None)])
                except psycopg.Error as exc:
                    raise StoreError(f"the escrow database {self.url} is unavailable: {_first_line(exc)}") from None
                self._depth += 1
                head = self._tx_head
                try:
                    yield
                except BaseException:
                    self._batch, self._checked = [], False  # the block's writes not sent yet: never sent
                    if self._undo(name):
                        self._savepoint_undone(head)  # the entries written since are undone
                    else:  # the transaction is not usable again: its commit would be a silent rollback
                        self._aborted = True
                    raise
                else:
                    self._batch.append((f"RELEASE SAVEPOINT {name}", None))
                finally:
                    self._depth -= 1
                return
            crash_point("tx.begin")
            try:  # begun inside: an interrupt (Ctrl-C) just after BEGIN must not leave it open
                self._open_tx_state()
                block = _QUICK_BEGIN_BLOCK if self._no_wait else _BEGIN_BLOCK
                takes = (None,) * (len(block) - 2) + (self._take_head, self._take_mark)
                self._batch = list(zip(block, takes))
                self._begin_len = len(block)
                yield
                if self._aborted:
                    raise StoreError("the escrow database refused a statement of this transaction: "
                                     "nothing of it was written")
                self._committing = True  # what the hooks write goes with the COMMIT, checks and all
                for fn in self._before_commit:
                    fn()
                crash_point("tx.commit")
                self._commit()
                self._no_wait = False  # committed: what follows in `without_waiting` cannot be redone
            except BaseException:
                self._rollback()
                raise
            finally:
                self._close_tx_state()
            crash_point("tx.committed")

    def _commit(self) -> None:
        """Send what waits in the batch with the COMMIT, in one round trip: each checked write
        there is checked by the server (`_checked_by_server`), which stops at the first that
        changed no row, so a failed check leaves nothing committed and raises its own error, as
        if it had been sent before. Nothing sent and nothing written: no round trip at all."""
        psycopg = self._pg
        if not self._begun and len(self._batch) == self._begin_len:
            self._batch = []
            return
        try:
            self._send([("COMMIT", None)], commit=True)
        except psycopg.errors.IntegrityError as exc:
            raise Conflict(f"the escrow database refused a write of this transaction: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise StoreError(f"the escrow database could not commit: {_first_line(exc)}") from None
        self._begun = False

    def _send(self, tail: list[tuple[str, Callable | None]], *, commit: bool = False):
        """Send the batch and then `tail` as one query string (one round trip), each result taken
        as its entry says; the cursor, at the result of the last statement. The statements after
        one that fails are not run, and the failure marks the transaction (its commit is refused).
        A check that fails (`_write_later`'s `missing`) is raised once every result is taken:
        every statement ran, and the transaction is as usable as after an immediate write that
        changed no row. So a batch with a check goes before a write, never with it (`_settle`):
        the write must not happen when the call that sends it raises. `commit` (a tail ending in
        COMMIT): the checks go with it, checked by the server instead (`_checked_by_server`)."""
        psycopg = self._pg
        items, self._batch, self._checked = self._batch + tail, [], False
        if not items:
            return None
        checks: dict[str, _RowCheck] = {}
        if commit or self._committing:  # a check that fails is the server's error: nothing after it runs
            checks = {str(i): take for i, (_, take) in enumerate(items) if isinstance(take, _RowCheck)}
            items = [(_checked_by_server(sql, i), None) if str(i) in checks else (sql, take)
                     for i, (sql, take) in enumerate(items)]
        text = "; ".join(statement for statement, _ in items)
        fresh = not self._begun and items[0][0] == _BEGIN_BLOCK[0]
        try:
            # nothing of this transaction was sent: on a lost connection, once more on a new one
            # (never a batch that commits: the server may have committed it before the loss)
            if fresh and items[-1][0] != "COMMIT":
                self._begun = True
                cur = self._retrying(lambda: self._db.execute(text, prepare=False))
            else:
                self._begun = self._begun or fresh
                cur = self._db.execute(text, prepare=False)
        except psycopg.errors.LockNotAvailable:
            self._aborted = True
            if fresh and items[1][0] == _QUICK_BEGIN_BLOCK[1]:
                raise Busy(f"another process has held the escrow database's write lock for {QUICK_LOCK_WAIT}") from None
            raise StoreError("the escrow database is busy (another process held its write lock "
                             f"for {LOCK_TIMEOUT})") from None
        except psycopg.errors.InvalidTextRepresentation as exc:
            self._aborted = True
            failed = checks.get(_failed_check(exc))
            if failed is None:
                raise
            raise failed.missing() from None
        except BaseException:
            self._aborted = True
            raise
        refused = None
        for i, (_, take) in enumerate(items):
            if i:
                cur.nextset()
            if take is not None:
                try:
                    take(cur)
                except StoreError as exc:  # a check: raised once all are taken
                    refused = refused or exc
                    if getattr(take, "fatal", False):  # a guard: nothing of the transaction may commit
                        self._aborted = True
                except BaseException:
                    self._aborted = True
                    raise
        if refused is not None:
            raise refused
        return cur

    def _flush(self) -> None:
        """Send what waits in the batch now (before a statement that runs on its own)."""
        if self._batch:
            self._send([])

    def _settle(self) -> None:
        """Before a statement that changes something: send the batch if a check waits in it (not
        once the transaction is committing: the server checks each, see `_send`)."""
        if self._checked and not self._committing:
            self._send([])

    def _bind(self, sql: str, params: tuple) -> str:
        """`sql` (with `?` placeholders) with `params` bound as literals, by psycopg, for a batch."""
        if self._binder is None or self._binder.connection is not self._db:
            self._binder = self._pg.ClientCursor(self._db)
        return self._binder.mogrify(self._q(sql), params)

    def _take_head(self, cur) -> None:
        self._begin_head = self._head_of(cur.fetchone())

    def _take_mark(self, cur) -> None:
        self._tx_marks[self._PREFETCHED_MARK] = self._mark_of(cur.fetchone())

    def _begin_snapshot(self) -> None:
        # a read-only REPEATABLE READ transaction: one state for every read, without the write lock
        # (writers of other processes go on; a write inside is refused by the server)
        psycopg = self._pg
        self._begun = True
        try:
            self._retrying(lambda: self._db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                                                    prepare=False))
        except psycopg.Error as exc:
            self._rollback()
            raise StoreError(f"the escrow database {self.url} is unavailable: {_first_line(exc)}") from None

    def _end_snapshot(self) -> None:
        self._rollback()

    def _still_open(self) -> bool:
        # a transaction's batch holds its BEGIN until it is sent, and it is `_begun` from then on
        # until its COMMIT or ROLLBACK; a connection left inside one is replaced (`_retrying`)
        return self._begun or bool(self._batch)

    def _close_tx_state(self) -> None:
        super()._close_tx_state()
        self._batch, self._checked, self._committing = [], False, False

    def _rollback(self) -> None:
        self._batch, self._checked = [], False
        if not self._begun:  # nothing was sent: there is nothing to roll back
            return
        self._begun = False
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

    def _run(self, label: str, sql: str, params: tuple, answer: Callable, refusable: bool = True):
        """Run one statement now (with the batch waiting before it), in the current transaction or
        a transaction of its own; `answer(cursor)`."""
        with self._lock:
            if not self._depth:
                # a transaction of its own: a failure rolls all of it back, no savepoint needed
                with self.transaction():
                    return self._statement(label, sql, params, answer, savepoint=False)
            return self._statement(label, sql, params, answer, savepoint=refusable)

    def _statement(self, label: str, sql: str, params, answer: Callable, *, savepoint: bool):
        psycopg = self._pg
        many = isinstance(params, list)  # the rows of an executemany
        try:
            if savepoint or many:
                self._flush()
            else:
                self._settle()
        except psycopg.Error as exc:
            raise _failed(psycopg, label, exc) from None
        try:
            if savepoint:  # SAVEPOINT, the statement and RELEASE in one round trip
                with self._db.pipeline():
                    self._db.execute("SAVEPOINT stmt")
                    cur = self._execute(sql, params)
                    self._db.execute("RELEASE SAVEPOINT stmt")
            elif self._batch:  # sent with what waits before it
                cur = self._send([(self._bind(sql, params), None)])
            else:
                cur = self._execute(sql, params)
            result = answer(cur)
        except psycopg.Error as exc:
            if not (savepoint and self._undo("stmt")):
                self._aborted = True  # the server refuses every later statement; the commit is refused
            raise _failed(psycopg, label, exc) from None
        crash_point(f"store.{label}")
        return result

    def _execute(self, sql: str, params):
        if isinstance(params, list):
            cur = self._db.cursor()
            cur.executemany(self._q(sql), params)
            return cur
        return self._db.execute(self._q(sql), params)

    def _write(self, label: str, sql: str, params: tuple = (), *, refusable: bool = True) -> int:
        check_storable(params)
        return self._run(label, sql, params, _rowcount, refusable)

    def _write_later(self, label: str, sql: str, params: tuple = (), *, missing=None, fatal: bool = False) -> None:
        check_storable(params)
        with self._lock:
            if not self._depth:
                return super()._write_later(label, sql, params, missing=missing, fatal=fatal)
            self._settle()  # never queued behind a check: it must not happen if the check fails
            if missing is None:
                self._batch.append((self._bind(sql, params), None))
            else:
                self._batch.append((self._bind(sql, params), _RowCheck(missing, fatal)))
                self._checked = self._checked or not fatal  # a guard needs no settling: see `_RowCheck`
            crash_point(f"store.{label}")

    def _write_many(self, label: str, sql: str, rows, *, later: bool = False) -> None:
        rows = storable_rows(rows)
        with self._lock:
            if later and self._depth:
                self._settle()
                self._batch.extend((self._bind(sql, row), None) for row in rows)
                crash_point(f"store.{label}")
                return
            self._run(label, sql, rows, _rowcount, not later)

    def _insert_id(self, label: str, sql: str, params: tuple) -> int:
        check_storable(params)
        return self._run(label, sql + " RETURNING id", params, lambda cur: int(cur.fetchone()[0]))

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        check_storable(params)
        with self._lock:
            try:
                if self._batch:  # sent with what waits before it
                    return self._send([(self._bind(sql, params), None)]).fetchall()
                if self._depth:
                    return self._db.execute(self._q(sql), params).fetchall()
                return self._retrying(lambda: self._db.execute(self._q(sql), params).fetchall())
            except self._pg.Error as exc:
                raise StoreError(f"reading the escrow database: {_first_line(exc)}") from None

    def _all_together(self, reads: list[tuple[str, tuple]]) -> list[list[tuple]]:
        for _, params in reads:
            check_storable(params)
        out: list[list[tuple]] = []
        with self._lock:
            try:
                if self._depth:  # sent with what waits before them
                    self._send([(self._bind(sql, params), lambda cur: out.append(cur.fetchall()))
                                for sql, params in reads])
                    return out
            except self._pg.Error as exc:
                raise StoreError(f"reading the escrow database: {_first_line(exc)}") from None
        return super()._all_together(reads)

    def _json_field_sql(self, field: str) -> tuple[str, tuple]:
        return "dsc_json_text(payload, ?)", (field,)


def _rowcount(cur) -> int:
    return cur.rowcount


class _RowCheck:
    """What a batch takes of a checked write's result: `missing()` raised when it changed no row.
    A guard (`fatal`) checks what the caller has already ruled out under the write lock (an
    approval recorded twice): later writes may go with it, and when it fails the transaction
    can only roll back, so they are undone with it."""

    __slots__ = ("missing", "fatal")

    def __init__(self, missing: Callable[[], StoreError], fatal: bool):
        self.missing, self.fatal = missing, fatal

    def __call__(self, cur) -> None:
        if cur.rowcount == 0:
            raise self.missing()


_CHECK_MARK = "dsc check failed:"
_FAILED_CHECK = re.compile(re.escape(_CHECK_MARK) + r" (\d+)")


def _checked_by_server(sql: str, i: int) -> str:
    """Write `sql` (an INSERT, UPDATE or DELETE without RETURNING) so that the server fails the
    statement when it changes no row: a text that is no integer, cast to one, with the write's
    position `i` in it (read back by `_failed_check`). The cast's input depends on the row count,
    so the planner cannot evaluate it ahead."""
    return (f"WITH w AS ({sql} RETURNING 1) SELECT CAST(CASE WHEN count(*) = 0 THEN '{_CHECK_MARK} {i}'"
            f" ELSE '0' END AS integer) FROM w")


def _failed_check(exc: BaseException) -> str | None:
    """The position of the write `_checked_by_server` failed, if that is the error."""
    m = _FAILED_CHECK.search(str(exc))
    return m.group(1) if m else None


def _failed(psycopg, label: str, exc: BaseException) -> StoreError:
    """The store's error for a statement (or the batch before it) the server refused."""
    if isinstance(exc, psycopg.errors.IntegrityError):
        return Conflict(f"{label}: {_first_line(exc)}")
    return StoreError(f"{label}: {_first_line(exc)}")


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
