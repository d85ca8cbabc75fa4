"""SQLite backend of the `Store`: WAL journal, foreign keys, one transaction per state change."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import migrations
from .base import (
    OPEN_STATUSES,
    AgentRow,
    ApprovalRow,
    AuditEntry,
    Conflict,
    ContractRow,
    DataRow,
    ExecutionRow,
    KeptRow,
    NotFound,
    PolicyRow,
    RejectionRow,
    ReleaseRow,
    ReplayError,
    Store,
    StoreError,
)
from ..crashpoints import crash_point


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _loads(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


class SQLiteStore(Store):
    def __init__(self, path: str | os.PathLike, *, migrate: bool = True, synchronous: str = "FULL"):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not os.path.exists(self.path):  # SQLite gives its -wal/-shm files the same mode
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(f"PRAGMA synchronous = {synchronous}")
            if migrate:
                migrations.migrate(self._db, crash=crash_point)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the escrow database {self.path}: {exc}") from None
        self._lock = threading.RLock()
        self._depth = 0
        self._before_commit: list = []

    # -- plumbing ------------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._db.close()

    def schema_version(self) -> int:
        with self._lock:
            return migrations.current_version(self._db)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth:
                # Nested: joins the outer transaction; a failing inner block undoes only itself.
                name = f"sp{self._depth}"
                self._db.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield
                except BaseException:
                    self._db.execute(f"ROLLBACK TO {name}")
                    self._db.execute(f"RELEASE {name}")
                    raise
                else:
                    self._db.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            crash_point("tx.begin")
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"the escrow database is busy: {exc}") from None
            self._depth = 1
            self._before_commit = []
            try:
                yield
                for fn in self._before_commit:
                    fn()
                crash_point("tx.commit")
                try:
                    self._db.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"the escrow database could not commit: {exc}") from None
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
                self._before_commit = []
            crash_point("tx.committed")

    def before_commit(self, fn) -> None:
        if not self._depth:
            raise StoreError("before_commit() needs an open transaction")
        if fn not in self._before_commit:
            self._before_commit.append(fn)

    def _write(self, label: str, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        """Run one mutating statement inside a transaction (the current one or its own).

        A single statement is atomic by itself in SQLite, so inside a transaction it needs no savepoint.
        """
        with self._lock:
            if not self._depth:
                with self.transaction():
                    return self._write(label, sql, params)
            try:
                cur = self._db.execute(sql, params)
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"{label}: {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{label}: {exc}") from None
            crash_point(f"store.{label}")
            return cur

    def _all(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"reading the escrow database: {exc}") from None

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    # -- agents --------------------------------------------------------------------
    def add_agent(self, row: AgentRow) -> None:
        if self.get_agent(row.name):
            raise Conflict(f"agent {row.name!r} is already registered")
        self._write(
            "add_agent",
            "INSERT INTO agents (name, display, public_key, created) VALUES (?, ?, ?, ?)",
            (row.name, row.display, row.public_key, row.created or time.time()),
        )

    _AGENT = "SELECT name, display, public_key, created FROM agents"

    @staticmethod
    def _agent(r: tuple) -> AgentRow:
        return AgentRow(name=r[0], display=r[1], public_key=r[2], created=r[3])

    def get_agent(self, name: str) -> AgentRow | None:
        r = self._one(self._AGENT + " WHERE name = ?", (name,))
        return self._agent(r) if r else None

    def list_agents(self) -> list[AgentRow]:
        return [self._agent(r) for r in self._all(self._AGENT + " ORDER BY name")]

    # -- data ----------------------------------------------------------------------
    _DATA = (
        "SELECT key, owner, format, content_hash, size, inferred_schema, declared_schema, derived,"
        " provenance, created FROM data"
    )

    @staticmethod
    def _data(r: tuple) -> DataRow:
        return DataRow(
            key=r[0], owner=r[1], format=r[2], content_hash=r[3], size=r[4],
            inferred_schema=_loads(r[5]), declared_schema=_loads(r[6]), derived=bool(r[7]),
            provenance=tuple(_loads(r[8], [])), created=r[9],
        )

    _PUT_DATA = (
        "INSERT OR REPLACE INTO data (key, owner, format, content_hash, size, inferred_schema,"
        " declared_schema, derived, provenance, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )

    @staticmethod
    def _data_params(row: DataRow) -> tuple:
        return (
            row.key, row.owner, row.format, row.content_hash, row.size,
            None if row.inferred_schema is None else _dumps(row.inferred_schema),
            None if row.declared_schema is None else _dumps(row.declared_schema),
            int(row.derived), _dumps(list(row.provenance)), row.created or time.time(),
        )

    def put_data(self, row: DataRow) -> None:
        self._write("put_data", self._PUT_DATA, self._data_params(row))

    def put_data_many(self, rows) -> None:
        with self.transaction():
            try:
                self._db.executemany(self._PUT_DATA, (self._data_params(r) for r in rows))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"put_data_many: {exc}") from None
            crash_point("store.put_data_many")

    def get_data(self, key: str) -> DataRow | None:
        r = self._one(self._DATA + " WHERE key = ?", (key,))
        return self._data(r) if r else None

    def list_data(self, owner: str | None = None) -> list[DataRow]:
        if owner is None:
            return [self._data(r) for r in self._all(self._DATA + " ORDER BY key")]
        return [self._data(r) for r in self._all(self._DATA + " WHERE owner = ? ORDER BY key", (owner,))]

    def remove_data(self, key: str) -> None:
        if self._write("remove_data", "DELETE FROM data WHERE key = ?", (key,)).rowcount == 0:
            raise NotFound(f"no data element {key!r}")

    def data_by_hash(self, owner: str, content_hash: str) -> list[DataRow]:
        rows = self._all(self._DATA + " WHERE owner = ? AND content_hash = ? ORDER BY key", (owner, content_hash))
        return [self._data(r) for r in rows]

    # -- contracts -----------------------------------------------------------------
    _CONTRACT = (
        "SELECT id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated FROM contracts"
    )

    @staticmethod
    def _contract(r: tuple) -> ContractRow:
        return ContractRow(
            id=r[0], name=r[1], canonical=r[2], source=r[3], function_hashes=_loads(r[4], {}),
            proposer=r[5], status=r[6], inputs=tuple(_loads(r[7], [])), recipients=tuple(_loads(r[8], [])),
            source_agents=tuple(_loads(r[9], [])), meta=_loads(r[10], {}), created=r[11], updated=r[12],
        )

    def put_contract(self, row: ContractRow) -> None:
        now = time.time()
        with self.transaction():
            if self.get_contract(row.id):
                raise Conflict(f"contract {row.id} already exists")
            self._write(
                "put_contract",
                "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs,"
                " recipients, source_agents, meta, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id, row.name, row.canonical, row.source, _dumps(row.function_hashes), row.proposer,
                    row.status, _dumps(list(row.inputs)), _dumps(list(row.recipients)),
                    _dumps(list(row.source_agents)), _dumps(row.meta), row.created or now, row.updated or now,
                ),
            )
            for key in sorted(set(row.inputs)):
                self._db.execute("INSERT INTO contract_inputs (contract_id, data_key) VALUES (?, ?)", (row.id, key))
            for agent in sorted(set(row.source_agents)):
                self._db.execute("INSERT INTO contract_owners (contract_id, agent) VALUES (?, ?)", (row.id, agent))

    def get_contract(self, contract_id: str) -> ContractRow | None:
        r = self._one(self._CONTRACT + " WHERE id = ?", (contract_id,))
        return self._contract(r) if r else None

    def find_contracts(self, prefix: str) -> list[ContractRow]:
        # Range scan instead of LIKE so `_`/`%` in the prefix mean nothing special.
        rows = self._all(self._CONTRACT + " WHERE id >= ? AND id < ? ORDER BY id", (prefix, prefix + "\U0010ffff"))
        return [self._contract(r) for r in rows]

    def list_contracts(self, status: str | None = None, proposer: str | None = None) -> list[ContractRow]:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if proposer is not None:
            where.append("proposer = ?")
            params.append(proposer)
        sql = self._CONTRACT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created, id"
        return [self._contract(r) for r in self._all(sql, tuple(params))]

    def set_contract_status(self, contract_id: str, status: str, meta: dict | None = None) -> None:
        if meta is None:
            cur = self._write(
                "set_contract_status", "UPDATE contracts SET status = ?, updated = ? WHERE id = ?",
                (status, time.time(), contract_id),
            )
        else:
            cur = self._write(
                "set_contract_status", "UPDATE contracts SET status = ?, meta = ?, updated = ? WHERE id = ?",
                (status, _dumps(meta), time.time(), contract_id),
            )
        if cur.rowcount == 0:
            raise NotFound(f"no contract {contract_id}")

    def swap_contract_status(self, contract_id: str, expected: str, status: str) -> bool:
        cur = self._write(
            "swap_contract_status", "UPDATE contracts SET status = ?, updated = ? WHERE id = ? AND status = ?",
            (status, time.time(), contract_id, expected),
        )
        return cur.rowcount == 1

    def pending_for(self, agent: str) -> list[ContractRow]:
        sql = (self._CONTRACT + " WHERE status = ? AND id IN (SELECT contract_id FROM contract_owners WHERE agent = ?)"
               " AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.contract_id = contracts.id AND a.agent = ?)"
               " ORDER BY created, id")
        rows = [self._contract(r) for r in self._all(sql, ("pending", agent, agent))]
        return [r for r in rows if agent in r.source_agents]  # the row's own list decides, as before

    _DECISION = (
        "SELECT c.name, c.status, EXISTS (SELECT 1 FROM releases r WHERE r.contract_id = c.id), h.seq, h.hash"
        " FROM contracts c LEFT JOIN audit_head h ON h.id = 1 WHERE c.id = ?"
    )

    def decision_state(self, contract_id: str):
        r = self._one(self._DECISION, (contract_id,))
        if r is None:
            return None
        return r[0], r[1], bool(r[2]), (int(r[3]), r[4]) if r[3] is not None else None

    def contracts_using(self, data_key: str, statuses: tuple[str, ...] | None = OPEN_STATUSES) -> list[ContractRow]:
        sql = self._CONTRACT + " WHERE id IN (SELECT contract_id FROM contract_inputs WHERE data_key = ?)"
        params: tuple = (data_key,)
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params += tuple(statuses)
        return [self._contract(r) for r in self._all(sql + " ORDER BY created, id", params)]

    # -- approvals / rejections ------------------------------------------------------
    def add_approval(self, row: ApprovalRow) -> None:
        with self.transaction():
            if self._one("SELECT 1 FROM approvals WHERE contract_id = ? AND agent = ?", (row.contract_id, row.agent)):
                raise Conflict(f"{row.agent} already approved contract {row.contract_id}")
            self._write(
                "add_approval",
                "INSERT INTO approvals (contract_id, agent, signature, via_policy, ts) VALUES (?, ?, ?, ?, ?)",
                (row.contract_id, row.agent, row.signature, row.via_policy, row.ts or time.time()),
            )

    def approvals(self, contract_id: str) -> list[ApprovalRow]:
        rows = self._all(
            "SELECT contract_id, agent, signature, via_policy, ts FROM approvals WHERE contract_id = ? ORDER BY ts, agent",
            (contract_id,),
        )
        return [ApprovalRow(contract_id=r[0], agent=r[1], signature=r[2], via_policy=r[3], ts=r[4]) for r in rows]

    def remove_approvals(self, contract_id: str, agent: str | None = None) -> int:
        if agent is None:
            return self._write("remove_approvals", "DELETE FROM approvals WHERE contract_id = ?", (contract_id,)).rowcount
        return self._write(
            "remove_approvals", "DELETE FROM approvals WHERE contract_id = ? AND agent = ?", (contract_id, agent)
        ).rowcount

    def add_rejection(self, row: RejectionRow) -> None:
        self._write(
            "add_rejection",
            "INSERT INTO rejections (contract_id, agent, reason, via_policy, ts) VALUES (?, ?, ?, ?, ?)",
            (row.contract_id, row.agent, row.reason, row.via_policy, row.ts or time.time()),
        )

    def rejections(self, contract_id: str) -> list[RejectionRow]:
        rows = self._all(
            "SELECT contract_id, agent, reason, via_policy, ts FROM rejections WHERE contract_id = ? ORDER BY id",
            (contract_id,),
        )
        return [RejectionRow(contract_id=r[0], agent=r[1], reason=r[2], via_policy=r[3], ts=r[4]) for r in rows]

    # -- policies ------------------------------------------------------------------
    def put_policy(self, row: PolicyRow) -> None:
        self._write(
            "put_policy",
            "INSERT OR REPLACE INTO policies (owner, rules, source, updated) VALUES (?, ?, ?, ?)",
            (row.owner, row.rules, row.source, row.updated or time.time()),
        )

    def get_policy(self, owner: str) -> PolicyRow | None:
        r = self._one("SELECT owner, rules, source, updated FROM policies WHERE owner = ?", (owner,))
        return PolicyRow(owner=r[0], rules=r[1], source=r[2], updated=r[3]) if r else None

    def list_policies(self) -> list[PolicyRow]:
        rows = self._all("SELECT owner, rules, source, updated FROM policies ORDER BY owner")
        return [PolicyRow(owner=r[0], rules=r[1], source=r[2], updated=r[3]) for r in rows]

    def remove_policy(self, owner: str) -> None:
        if self._write("remove_policy", "DELETE FROM policies WHERE owner = ?", (owner,)).rowcount == 0:
            raise NotFound(f"{owner} has no standing policy")

    # -- executions / releases / kept ------------------------------------------------
    def add_execution(self, row: ExecutionRow) -> int:
        cur = self._write(
            "add_execution",
            "INSERT INTO executions (contract_id, actor, status, started, finished, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (row.contract_id, row.actor, row.status, row.started or time.time(), row.finished, _dumps(row.detail)),
        )
        return int(cur.lastrowid)

    def finish_execution(self, execution_id: int, status: str, detail: dict | None = None, finished: float | None = None) -> None:
        sets, params = ["status = ?", "finished = ?"], [status, finished or time.time()]
        if detail is not None:
            sets.append("detail = ?")
            params.append(_dumps(detail))
        cur = self._write(
            "finish_execution", f"UPDATE executions SET {', '.join(sets)} WHERE id = ?", (*params, execution_id)
        )
        if cur.rowcount == 0:
            raise NotFound(f"no execution {execution_id}")

    def get_execution(self, execution_id: int) -> ExecutionRow | None:
        r = self._one("SELECT id, contract_id, actor, status, started, finished, detail FROM executions WHERE id = ?",
                      (execution_id,))
        return None if r is None else ExecutionRow(id=r[0], contract_id=r[1], actor=r[2], status=r[3], started=r[4],
                                                   finished=r[5], detail=_loads(r[6], {}))

    def executions(self, contract_id: str | None = None, status: str | None = None) -> list[ExecutionRow]:
        where, params = [], []
        if contract_id is not None:
            where.append("contract_id = ?")
            params.append(contract_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = "SELECT id, contract_id, actor, status, started, finished, detail FROM executions"
        rows = self._all(sql + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id", tuple(params))
        return [
            ExecutionRow(id=r[0], contract_id=r[1], actor=r[2], status=r[3], started=r[4], finished=r[5], detail=_loads(r[6], {}))
            for r in rows
        ]

    def add_release(self, row: ReleaseRow) -> None:
        with self.transaction():
            if self._one("SELECT 1 FROM releases WHERE contract_id = ? AND recipient = ?", (row.contract_id, row.recipient)):
                raise Conflict(f"contract {row.contract_id} was already released to {row.recipient}")
            self._write(
                "add_release",
                "INSERT INTO releases (contract_id, recipient, path, content_hash, execution_id, ts, file_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.contract_id, row.recipient, row.path, row.content_hash, row.execution_id, row.ts or time.time(),
                 row.file_hash),
            )

    def releases(self, contract_id: str | None = None, recipient: str | None = None) -> list[ReleaseRow]:
        where, params = [], []
        if contract_id is not None:
            where.append("contract_id = ?")
            params.append(contract_id)
        if recipient is not None:
            where.append("recipient = ?")
            params.append(recipient)
        sql = "SELECT contract_id, recipient, path, content_hash, execution_id, ts, file_hash FROM releases"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ts, recipient"
        return [
            ReleaseRow(contract_id=r[0], recipient=r[1], path=r[2], content_hash=r[3], execution_id=r[4], ts=r[5],
                       file_hash=r[6])
            for r in self._all(sql, tuple(params))
        ]

    def put_kept(self, row: KeptRow) -> None:
        self._write(
            "put_kept",
            "INSERT OR REPLACE INTO kept (name, contract_id, data_key, execution_id, ts) VALUES (?, ?, ?, ?, ?)",
            (row.name, row.contract_id, row.data_key, row.execution_id, row.ts or time.time()),
        )

    def get_kept(self, name: str) -> KeptRow | None:
        r = self._one("SELECT name, contract_id, data_key, execution_id, ts FROM kept WHERE name = ?", (name,))
        return KeptRow(name=r[0], contract_id=r[1], data_key=r[2], execution_id=r[3], ts=r[4]) if r else None

    def list_kept(self) -> list[KeptRow]:
        rows = self._all("SELECT name, contract_id, data_key, execution_id, ts FROM kept ORDER BY name")
        return [KeptRow(name=r[0], contract_id=r[1], data_key=r[2], execution_id=r[3], ts=r[4]) for r in rows]

    # -- app state -----------------------------------------------------------------
    def set_state(self, scope: str, key: str, value: Any) -> None:
        self._write(
            "set_state",
            "INSERT OR REPLACE INTO app_state (scope, key, value, updated) VALUES (?, ?, ?, ?)",
            (scope, key, _dumps(value), time.time()),
        )

    def get_state(self, scope: str, key: str, default: Any = None) -> Any:
        r = self._one("SELECT value FROM app_state WHERE scope = ? AND key = ?", (scope, key))
        return default if r is None else _loads(r[0], default)

    def delete_state(self, scope: str, key: str) -> None:
        self._write("delete_state", "DELETE FROM app_state WHERE scope = ? AND key = ?", (scope, key))

    def list_state(self, scope: str) -> dict[str, Any]:
        return {k: _loads(v) for k, v in self._all("SELECT key, value FROM app_state WHERE scope = ? ORDER BY key", (scope,))}

    # -- settings ------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        r = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return r[0] if r else None

    def set_setting(self, key: str, value: str | None) -> None:
        if value is None:
            self._write("set_setting", "DELETE FROM settings WHERE key = ?", (key,))
        else:
            self._write("set_setting", "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # -- nonces --------------------------------------------------------------------
    def use_nonce(self, agent: str, nonce: str, ts: float) -> None:
        with self.transaction():
            if self._one("SELECT 1 FROM nonces WHERE agent = ? AND nonce = ?", (agent, nonce)):
                raise ReplayError(f"request nonce already used by {agent} (replayed request)")
            self._write("use_nonce", "INSERT INTO nonces (agent, nonce, ts) VALUES (?, ?, ?)", (agent, nonce, ts))

    def prune_nonces(self, before: float) -> int:
        return self._write("prune_nonces", "DELETE FROM nonces WHERE ts < ?", (before,)).rowcount

    # -- audit ---------------------------------------------------------------------
    def audit_head(self) -> tuple[int, str, str] | None:
        r = self._one("SELECT seq, hash, signature FROM audit_head WHERE id = 1")
        return (int(r[0]), r[1], r[2]) if r else None

    def audit_insert(self, entry: AuditEntry, head_signature: str | None = None) -> None:
        with self.transaction():
            self._write(
                "audit_insert",
                "INSERT INTO audit (seq, ts, kind, actor, contract, payload, prev_hash, hash, signature)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.seq, entry.ts, entry.kind, entry.actor, entry.contract, _dumps(entry.payload),
                    entry.prev_hash, entry.hash, entry.signature,
                ),
            )
            self.set_audit_head(entry.seq, entry.hash, head_signature or "")

    def set_audit_head(self, seq: int, hash_: str, signature: str) -> None:
        self._write(
            "audit_head",
            "INSERT OR REPLACE INTO audit_head (id, seq, hash, signature) VALUES (1, ?, ?, ?)",
            (seq, hash_, signature),
        )

    _AUDIT = "SELECT seq, ts, kind, actor, contract, payload, prev_hash, hash, signature FROM audit"

    @staticmethod
    def _entry(r: tuple) -> AuditEntry:
        payload = _loads(r[5], None)
        if payload is None and r[5] != "null":
            payload = {"_raw": r[5]}  # undecodable (tampered) payload: keep the text for verify/log
        return AuditEntry(seq=r[0], ts=r[1], kind=r[2], actor=r[3], contract=r[4], payload=payload,
                          prev_hash=r[6], hash=r[7], signature=r[8])

    def audit_entries(self, contract: str | None = None, agent: str | None = None, after_seq: int = 0) -> Iterator[AuditEntry]:
        sql = self._AUDIT + " WHERE seq > ?"
        params: tuple = (after_seq,)
        if contract is not None:
            sql += " AND contract = ?"
            params += (contract,)
        for r in self._all(sql + " ORDER BY seq", params):
            entry = self._entry(r)
            if agent is not None and not _mentions(entry, agent):
                continue
            yield entry

    def audit_find(self, kinds: Sequence[str], *, contract: str | None = None, field: str | None = None,
                   value: str | None = None) -> list[AuditEntry]:
        kinds = list(kinds)
        if not kinds:
            return []
        sql = self._AUDIT + f" WHERE kind IN ({','.join('?' * len(kinds))})"
        params: list = list(kinds)
        if contract is not None:
            sql += " AND contract = ?"
            params.append(contract)
        if field is not None:
            # json_valid first: a tampered, undecodable payload must not make the query fail
            sql += " AND (CASE WHEN json_valid(payload) THEN json_extract(payload, ?) END) = ?"
            params += ['$."' + field.replace('"', '') + '"', value]
        return [self._entry(r) for r in self._all(sql + " ORDER BY seq", tuple(params))]

    def audit_raw(self) -> list[tuple]:
        """Rows exactly as stored (for `dsc audit verify`, which hashes the stored payload text)."""
        return self._all(
            "SELECT seq, ts, kind, actor, contract, payload, prev_hash, hash, signature FROM audit ORDER BY seq"
        )

    def audit_count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM audit")[0])


def _mentions(entry: AuditEntry, agent: str) -> bool:
    if entry.actor == agent:
        return True
    p = entry.payload if isinstance(entry.payload, dict) else {}
    for k in ("agent", "recipient", "owner"):
        if p.get(k) == agent:
            return True
    for k in ("recipients", "agents", "source_agents"):
        v = p.get(k)
        if isinstance(v, list) and agent in v:
            return True
    return False
