"""The `Store`'s queries, shared by the SQLite and PostgreSQL backends.

The SQL here is written once, with `?` placeholders, in the dialect both databases accept
(`INSERT ... ON CONFLICT ... DO UPDATE`, `IN (...)`, savepoints); a backend supplies the
transactions and four primitives: `_write` (one mutating statement inside the current
transaction or its own, integrity errors as `Conflict`), `_insert_id`, `_all`, and
`_json_field_sql` (the payload filter of `audit_find`).

A write that a constraint may refuse (a duplicate agent, a second approval ...) leaves the
transaction usable: a caller may catch the `Conflict` and go on. A write passed
`refusable=False` is one no constraint refuses (an `ON CONFLICT` clause answers duplicates, or
the write lock rules a conflict out); PostgreSQL runs it without the savepoint a refusable
write needs, and if it fails nonetheless the transaction can only roll back (its commit is
refused). A write passed to `_write_later` is such a write whose row count no caller reads:
PostgreSQL sends it with the transaction's next statement that needs an answer (a read, a
write whose count is read, the commit), so it costs no round trip of its own.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

from .base import (
    MAX_SEQ,
    OPEN_STATUSES,
    AgentRow,
    ApprovalRow,
    AuditEntry,
    Busy,
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
    entry_readers,
    party_rows,
    stored_party_names,
)

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _kept_as(meta: Any) -> str | None:
    """The `kept_as` column of a row with this meta: the name it keeps its result as, if any."""
    name = meta.get("kept_as") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def loads(text: str | None, default: Any = None) -> Any:
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """Insert or replace the row with this key (the same statement in SQLite and PostgreSQL)."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")


_UNREAD = object()  # a value of this transaction not read yet


class SQLStore(Store):
    """Every query of the `Store`, over the primitives a backend implements."""

    # -- backend primitives ----------------------------------------------------------
    @abc.abstractmethod
    def _write(self, label: str, sql: str, params: tuple = (), *, refusable: bool = True) -> int:
        """Run one mutating statement in the current transaction (or its own); its row count."""

    @abc.abstractmethod
    def _write_many(self, label: str, sql: str, rows: Iterable[tuple], *, later: bool = False) -> None:
        """Run one statement for each of `rows`; `later`: rows no constraint refuses, sent as
        `_write_later` sends its statement."""

    def _write_later(self, label: str, sql: str, params: tuple = (), *,
                     missing: Callable[[], StoreError] | None = None, fatal: bool = False) -> None:
        """A write no constraint refuses and whose row count no caller reads but for `missing` (the
        error raised when it changes no row). SQLite runs it at once. PostgreSQL sends it inside a
        transaction with the next read, or before the next write, or with the commit: if it
        fails, the transaction can only roll back; a check that fails is raised by the call that
        sent it (a read, any write after it, sent only once the check is settled, or the commit,
        which the server then never runs), before any later write runs, and leaves the
        transaction usable. A `fatal` check (a guard of what the caller ruled out under the write
        lock) is not settled before later writes: when it fails, the transaction can only roll
        back, and they with it."""
        if self._write(label, sql, params, refusable=False) == 0 and missing is not None:
            if fatal and self.in_transaction:
                self._aborted = True
            raise missing()

    @abc.abstractmethod
    def _insert_id(self, label: str, sql: str, params: tuple) -> int:
        """Run one INSERT into a table with an `id` the database assigns; that id."""

    @abc.abstractmethod
    def _all(self, sql: str, params: tuple = ()) -> list[tuple]: ...

    @abc.abstractmethod
    def _json_field_sql(self, field: str) -> tuple[str, tuple]:
        """SQL (and its parameters) for the string value of the top-level `field` of `payload`, NULL
        when the payload is no JSON object or the value no string."""

    def _one(self, sql: str, params: tuple = ()) -> tuple | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all_together(self, reads: list[tuple[str, tuple]]) -> list[list[tuple]]:
        """The rows of each of `reads` ((sql, params) each); PostgreSQL sends them in one round trip."""
        return [self._all(sql, params) for sql, params in reads]

    # -- agents --------------------------------------------------------------------
    def add_agent(self, row: AgentRow) -> None:
        with self.transaction():
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
            inferred_schema=loads(r[5]), declared_schema=loads(r[6]), derived=bool(r[7]),
            provenance=tuple(loads(r[8], [])), created=r[9],
        )

    _PUT_DATA = upsert("data", ("key", "owner", "format", "content_hash", "size", "inferred_schema",
                                "declared_schema", "derived", "provenance", "created"), ("key",))

    @staticmethod
    def _data_params(row: DataRow) -> tuple:
        return (
            row.key, row.owner, row.format, row.content_hash, row.size,
            None if row.inferred_schema is None else dumps(row.inferred_schema),
            None if row.declared_schema is None else dumps(row.declared_schema),
            int(row.derived), dumps(list(row.provenance)), row.created or time.time(),
        )

    def put_data(self, row: DataRow) -> None:
        self._write("put_data", self._PUT_DATA, self._data_params(row))

    def put_data_many(self, rows) -> None:
        with self.transaction():
            self._write_many("put_data_many", self._PUT_DATA, (self._data_params(r) for r in rows))

    def get_data(self, key: str) -> DataRow | None:
        r = self._one(self._DATA + " WHERE key = ?", (key,))
        return self._data(r) if r else None

    def list_data(self, owner: str | None = None, *, derived: bool | None = None) -> list[DataRow]:
        where, params = [], []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if derived is not None:
            where.append("derived <> 0" if derived else "derived = 0")
        sql = self._DATA + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY key"
        return [self._data(r) for r in self._all(sql, tuple(params))]

    def remove_data(self, key: str) -> None:
        if self._write("remove_data", "DELETE FROM data WHERE key = ?", (key,)) == 0:
            raise NotFound(f"no data element {key!r}")

    def data_by_hash(self, owner: str, content_hash: str) -> list[DataRow]:
        rows = self._all(self._DATA + " WHERE owner = ? AND content_hash = ? ORDER BY key", (owner, content_hash))
        return [self._data(r) for r in rows]

    # -- contracts -----------------------------------------------------------------
    # A contract's bundle (the .dsc text and its modules: the same for every contract proposed from
    # one file) is stored once in `bundles`, under the sha256 of its canonical JSON (the hash the
    # proposal's log entry records), and the row keeps that hash; rows stored before keep theirs
    # inline in `meta`. Readers see `meta["bundle"]` and `source` either way.
    _COLUMNS = "SELECT " + ", ".join(f"contracts.{c}" for c in (
        "id", "name", "canonical", "source", "function_hashes", "proposer", "status", "inputs", "recipients",
        "source_agents", "meta", "created", "updated"))
    _CONTRACT = _COLUMNS + ", (SELECT b.body FROM bundles b WHERE b.sha256 = contracts.bundle_ref) FROM contracts"
    # Reads of many rows select the bundle's hash instead, and each distinct bundle is read once
    # (`_contracts`): selecting it per row copied and sorted the file once per contract (a list of
    # 5,000 contracts proposed from 1,000-contract files took 2.5-5 s, bench/RESULTS.md).
    _CONTRACTS = _COLUMNS + ", contracts.bundle_ref FROM contracts"
    _PUT_BUNDLE = "INSERT INTO bundles (sha256, body) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING"
    _BUNDLES_CHUNK = 500  # hashes per `IN (...)` query
    BUNDLES = "store.bundles"  # memo of parsed bundles: {text: parsed}
    MAX_MEMO_TEXT = 1 << 20  # larger bundles are parsed at each read (64 at most are remembered)

    def _contract(self, r: tuple) -> ContractRow:
        meta, source = loads(r[10], {}), r[3]
        if r[13] is not None and isinstance(meta, dict):
            bundle = self._bundle(r[13])
            if bundle is not None:
                meta["bundle"] = bundle
                source = source or bundle.get("source") or ""
        return ContractRow(
            id=r[0], name=r[1], canonical=r[2], source=source, function_hashes=loads(r[4], {}),
            proposer=r[5], status=r[6], inputs=tuple(loads(r[7], [])), recipients=tuple(loads(r[8], [])),
            source_agents=tuple(loads(r[9], [])), meta=meta, created=r[11], updated=r[12],
        )

    def _contracts(self, rows: list[tuple]) -> list[ContractRow]:
        """Rows of `_CONTRACTS` (the bundle's hash last) as ContractRows, each distinct bundle read once."""
        refs = sorted({r[13] for r in rows if r[13] is not None})
        bodies: dict[str, str] = {}
        for i in range(0, len(refs), self._BUNDLES_CHUNK):
            chunk = refs[i:i + self._BUNDLES_CHUNK]
            bodies.update(self._all(f"SELECT sha256, body FROM bundles WHERE sha256 IN ({','.join('?' * len(chunk))})",
                                    tuple(chunk)))
        return [self._contract((*r[:13], None if r[13] is None else bodies.get(r[13]))) for r in rows]

    def _bundle(self, body: str) -> dict | None:
        """A stored bundle's JSON text, parsed once per text (keyed by the text as read, so an
        edited row is parsed anew); each caller gets its own copy."""
        memo = self.memo(self.BUNDLES)
        parsed = memo.get(body)
        if parsed is None:
            parsed = loads(body, None)
            if not isinstance(parsed, dict):
                return None
            if len(body) <= self.MAX_MEMO_TEXT:
                if len(memo) >= 64:
                    memo.clear()
                memo[body] = parsed
        modules = parsed.get("modules")
        return {**parsed, "modules": dict(modules) if isinstance(modules, dict) else modules}

    def put_bundle(self, body: str) -> str:
        h = hashlib.sha256(body.encode()).hexdigest()
        self._write_later("put_bundle", self._PUT_BUNDLE, (h, body))
        return h

    def _stored_meta(self, meta: dict, source: str, ref: str | None = None) -> tuple[str, str, str | None]:
        """(meta text, source column, bundle hash) of a row to write: its bundle stored once in
        `bundles` (in the caller's transaction; `ref` when the caller stored it already with
        `put_bundle`), the row keeping its hash."""
        bundle = meta.get("bundle") if isinstance(meta, dict) else None
        if not isinstance(bundle, dict):
            return dumps(meta), source, None
        if ref is None:
            ref = self.put_bundle(dumps(bundle))
        return dumps({k: v for k, v in meta.items() if k != "bundle"}), \
            "" if source == bundle.get("source") else source, ref

    def put_contract(self, row: ContractRow, *, bundle_ref: str | None = None) -> None:
        if bundle_ref is not None and self.in_transaction:
            # no savepoint needed: the bundle is stored already, and of the row's statements only the
            # first can be refused (a contract of that id exists), writing nothing
            return self._put_contract(row, bundle_ref)
        with self.transaction():  # a savepoint (or a transaction): a refused row leaves no bundle behind either
            self._put_contract(row, bundle_ref)

    def _put_contract(self, row: ContractRow, bundle_ref: str | None) -> None:
        now = time.time()
        created = row.created or now
        meta, source, ref = self._stored_meta(row.meta, row.source, bundle_ref)
        # a contract of that id already there inserts nothing (no statement refused: no savepoint)
        n = self._write(
            "put_contract",
            "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs,"
            " recipients, source_agents, meta, created, updated, bundle_ref, kept_as)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                row.id, row.name, row.canonical, source, dumps(row.function_hashes), row.proposer,
                row.status, dumps(list(row.inputs)), dumps(list(row.recipients)),
                dumps(list(row.source_agents)), meta, created, row.updated or now, ref,
                _kept_as(row.meta),
            ),
            refusable=False,
        )
        if n == 0:
            raise Conflict(f"contract {row.id} already exists")
        keys = sorted(set(row.inputs))
        if keys:
            self._write_many("put_contract", "INSERT INTO contract_inputs (contract_id, data_key) VALUES (?, ?)",
                             [(row.id, key) for key in keys], later=True)
        # `since`: the log's head as this transaction sees it (the entry it wrote last, or the record
        # as committed, read under the write lock): every entry of the contract comes after it. Read
        # each time, not remembered: a database restored under a running process puts it back.
        head = self.audit_head()
        since = head[0] if head else 0
        self._write_many("put_contract", "INSERT INTO contract_parties (agent, created, contract_id, owner, since)"
                         " VALUES (?, ?, ?, ?, ?)",
                         [(*r, since) for r in party_rows(row.id, created, row.proposer, row.source_agents,
                                                          row.recipients)], later=True)

    def get_contract(self, contract_id: str) -> ContractRow | None:
        r = self._one(self._CONTRACT + " WHERE id = ?", (contract_id,))
        return self._contract(r) if r else None

    def find_contracts(self, prefix: str) -> list[ContractRow]:
        # Range scan instead of LIKE so `_`/`%` in the prefix mean nothing special (ids compare
        # bytewise: SQLite's default, the "C" collation of the PostgreSQL columns).
        return self._contracts(self._all(self._CONTRACTS + " WHERE id >= ? AND id < ? ORDER BY id",
                                         (prefix, prefix + "\U0010ffff")))

    def list_contracts(self, status: str | None = None, proposer: str | None = None,
                       name: str | None = None) -> list[ContractRow]:
        where, params = [], []
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if proposer is not None:
            where.append("proposer = ?")
            params.append(proposer)
        if name is not None:
            where.append("name = ?")
            params.append(name)
        sql = self._CONTRACTS + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created, id"
        return self._contracts(self._all(sql, tuple(params)))

    def set_contract_status(self, contract_id: str, status: str, meta: dict | None = None, *,
                            updated: float | None = None) -> None:
        updated = time.time() if updated is None else updated
        if meta is None:
            return self._write_later(
                "set_contract_status", "UPDATE contracts SET status = ?, updated = ? WHERE id = ?",
                (status, updated, contract_id), missing=lambda: NotFound(f"no contract {contract_id}"),
            )
        else:
            text, _, ref = self._stored_meta(meta, "")
            n = self._write(
                "set_contract_status",
                "UPDATE contracts SET status = ?, meta = ?, updated = ?, bundle_ref = COALESCE(?, bundle_ref),"
                " kept_as = ? WHERE id = ?",
                (status, text, updated, ref, _kept_as(meta), contract_id),
            )
        if n == 0:
            raise NotFound(f"no contract {contract_id}")

    def swap_contract_status(self, contract_id: str, expected: str, status: str) -> bool:
        # One statement: the row is locked while its status is compared and set (PostgreSQL
        # re-checks the condition on the newest row version), so of two racing claims one wins.
        n = self._write(
            "swap_contract_status", "UPDATE contracts SET status = ?, updated = ? WHERE id = ? AND status = ?",
            (status, time.time(), contract_id, expected), refusable=False,
        )
        return n == 1

    def pending_for(self, agent: str, *, after: tuple[float, str] | None = None,
                    limit: int | None = None) -> list[ContractRow]:
        # from the agent's rows of contract_parties as a source agent, in their (creation) order,
        # rather than from every pending contract (the status index: 50,000 rows read at 100,000)
        sql = self._PARTY_CONTRACTS + (" AND contract_parties.owner = 1 AND status = ? AND NOT EXISTS"
                                       " (SELECT 1 FROM approvals a WHERE a.contract_id = contracts.id AND a.agent = ?)")
        sql, params = self._page(sql, (agent, "pending", agent), after, limit)
        rows = self._contracts(self._all(sql, params))
        return [r for r in rows if agent in r.source_agents]  # the row's own list decides, as before

    # one agent's contracts, from its rows of contract_parties (CROSS JOIN: SQLite keeps that order),
    # read in the order of their key (agent, created, id): a page costs its rows, however many
    # contracts the agent has
    _PARTY_CONTRACTS = (_COLUMNS + ", contracts.bundle_ref FROM contract_parties CROSS JOIN contracts"
                        " WHERE contract_parties.agent = ? AND contracts.id = contract_parties.contract_id")

    @staticmethod
    def _page(sql: str, params: tuple, after: tuple[float, str] | None, limit: int | None) -> tuple[str, tuple]:
        """`_PARTY_CONTRACTS` in creation order, after the (created, id) `after`, `limit` rows."""
        if after is not None:
            sql += (" AND (contract_parties.created > ? OR (contract_parties.created = ?"
                    " AND contract_parties.contract_id > ?))")
            params += (after[0], after[0], after[1])
        sql += " ORDER BY contract_parties.created, contract_parties.contract_id"
        if limit is not None:
            sql, params = sql + " LIMIT ?", params + (limit,)
        return sql, params

    def party_place(self, agent: str, contract_id: str) -> tuple[float, str] | None:
        # the whole key from the contract's row: one look-up, not a walk through the agent's rows
        r = self._one("SELECT p.created, p.contract_id FROM contracts c CROSS JOIN contract_parties p"
                      " WHERE c.id = ? AND p.agent = ? AND p.created = c.created AND p.contract_id = c.id",
                      (contract_id, agent))
        return (r[0], r[1]) if r else None

    def contracts_of(self, agent: str, status: str | None = None, *, after: tuple[float, str] | None = None,
                     limit: int | None = None) -> list[ContractRow]:
        sql, params = self._PARTY_CONTRACTS, (agent,)
        if status is not None:
            sql, params = sql + " AND status = ?", params + (status,)
        rows = self._contracts(self._all(*self._page(sql, params, after, limit)))
        return [r for r in rows if agent in r.parties]  # the row's own lists decide

    _DECISION = (
        "SELECT c.name, c.status, EXISTS (SELECT 1 FROM releases r WHERE r.contract_id = c.id), h.seq, h.hash"
        " FROM contracts c LEFT JOIN audit_head h ON h.id = 1 WHERE c.id = ?"
    )

    def contract_ids(self, status: str) -> list[str]:
        return [r[0] for r in self._all("SELECT id FROM contracts WHERE status = ? ORDER BY created DESC, id DESC",
                                        (status,))]

    def decision_state(self, contract_id: str):
        r = self._one(self._DECISION, (contract_id,))
        if r is None:
            return None
        head = (int(r[3]), r[4]) if r[3] is not None else None
        if self._tx_head is not None and self.in_transaction:
            head = self._tx_head[:2]  # this transaction's own entries, not yet in the head record
        return r[0], r[1], bool(r[2]), head

    def contracts_using(self, data_key: str, statuses: tuple[str, ...] | None = OPEN_STATUSES) -> list[ContractRow]:
        sql = self._CONTRACTS + " WHERE id IN (SELECT contract_id FROM contract_inputs WHERE data_key = ?)"
        params: tuple = (data_key,)
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params += tuple(statuses)
        return self._contracts(self._all(sql + " ORDER BY created, id", params))

    def contracts_keeping(self, name: str, statuses: tuple[str, ...]) -> list[ContractRow]:
        # from the indexed `kept_as` column (the name in the row's meta, written with it); the row's
        # own meta decides, as `Store.contracts_keeping` does
        sql = (self._CONTRACTS + f" WHERE kept_as = ? AND status IN ({','.join('?' * len(statuses))})"
               " ORDER BY created, id")
        rows = self._contracts(self._all(sql, (name, *map(str, statuses))))
        return [r for r in rows if r.meta.get("kept_as") == name]

    # -- approvals / rejections ------------------------------------------------------
    def add_approval(self, row: ApprovalRow) -> None:
        # One statement: a second approval (the primary key) inserts nothing, and is a `Conflict`
        # the transaction cannot commit after. Callers rule it out, and its only other constraint
        # (an unknown contract), by reading the row under the write lock: a guard, so PostgreSQL
        # sends it with the writes after it (the log entry, the status).
        self._write_later(
            "add_approval",
            "INSERT INTO approvals (contract_id, agent, signature, via_policy, ts) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (contract_id, agent) DO NOTHING",
            (row.contract_id, row.agent, row.signature, row.via_policy, row.ts or time.time()),
            missing=lambda: Conflict(f"{row.agent} already approved contract {row.contract_id}"), fatal=True,
        )

    _APPROVALS = ("SELECT contract_id, agent, signature, via_policy, ts FROM approvals WHERE contract_id = ?"
                  " ORDER BY ts, agent")

    @staticmethod
    def _approvals(rows: list[tuple]) -> list[ApprovalRow]:
        return [ApprovalRow(contract_id=r[0], agent=r[1], signature=r[2], via_policy=r[3], ts=r[4]) for r in rows]

    def approvals(self, contract_id: str) -> list[ApprovalRow]:
        return self._approvals(self._all(self._APPROVALS, (contract_id,)))

    def contract_with_approvals(self, contract_id: str) -> tuple[ContractRow | None, list[ApprovalRow]]:
        contract, approvals = self._all_together([(self._CONTRACT + " WHERE id = ?", (contract_id,)),
                                                  (self._APPROVALS, (contract_id,))])
        return (self._contract(contract[0]) if contract else None), self._approvals(approvals)

    def remove_approvals(self, contract_id: str, agent: str | None = None) -> int:
        if agent is None:
            return self._write("remove_approvals", "DELETE FROM approvals WHERE contract_id = ?", (contract_id,))
        return self._write(
            "remove_approvals", "DELETE FROM approvals WHERE contract_id = ? AND agent = ?", (contract_id, agent)
        )

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
        self._write("put_policy", upsert("policies", ("owner", "rules", "source", "updated"), ("owner",)),
                    (row.owner, row.rules, row.source, row.updated or time.time()))

    def get_policy(self, owner: str) -> PolicyRow | None:
        r = self._one("SELECT owner, rules, source, updated FROM policies WHERE owner = ?", (owner,))
        return PolicyRow(owner=r[0], rules=r[1], source=r[2], updated=r[3]) if r else None

    def list_policies(self) -> list[PolicyRow]:
        rows = self._all("SELECT owner, rules, source, updated FROM policies ORDER BY owner")
        return [PolicyRow(owner=r[0], rules=r[1], source=r[2], updated=r[3]) for r in rows]

    def remove_policy(self, owner: str) -> None:
        if self._write("remove_policy", "DELETE FROM policies WHERE owner = ?", (owner,)) == 0:
            raise NotFound(f"{owner} has no standing policy")

    # -- executions / releases / kept ------------------------------------------------
    def add_execution(self, row: ExecutionRow) -> int:
        return self._insert_id(
            "add_execution",
            "INSERT INTO executions (contract_id, actor, status, started, finished, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (row.contract_id, row.actor, row.status, row.started or time.time(), row.finished, dumps(row.detail)),
        )

    def finish_execution(self, execution_id: int, status: str, detail: dict | None = None, finished: float | None = None) -> None:
        sets, params = ["status = ?", "finished = ?"], [status, finished or time.time()]
        if detail is not None:
            sets.append("detail = ?")
            params.append(dumps(detail))
        n = self._write(
            "finish_execution", f"UPDATE executions SET {', '.join(sets)} WHERE id = ?", (*params, execution_id)
        )
        if n == 0:
            raise NotFound(f"no execution {execution_id}")

    _EXECUTION = "SELECT id, contract_id, actor, status, started, finished, detail FROM executions"

    @staticmethod
    def _execution(r: tuple) -> ExecutionRow:
        return ExecutionRow(id=r[0], contract_id=r[1], actor=r[2], status=r[3], started=r[4], finished=r[5],
                            detail=loads(r[6], {}))

    def get_execution(self, execution_id: int) -> ExecutionRow | None:
        r = self._one(self._EXECUTION + " WHERE id = ?", (execution_id,))
        return None if r is None else self._execution(r)

    def executions(self, contract_id: str | None = None, status: str | None = None) -> list[ExecutionRow]:
        where, params = [], []
        if contract_id is not None:
            where.append("contract_id = ?")
            params.append(contract_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = self._EXECUTION + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return [self._execution(r) for r in self._all(sql, tuple(params))]

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
        self._write("put_kept", upsert("kept", ("name", "contract_id", "data_key", "execution_id", "ts"), ("name",)),
                    (row.name, row.contract_id, row.data_key, row.execution_id, row.ts or time.time()))

    def get_kept(self, name: str) -> KeptRow | None:
        r = self._one("SELECT name, contract_id, data_key, execution_id, ts FROM kept WHERE name = ?", (name,))
        return KeptRow(name=r[0], contract_id=r[1], data_key=r[2], execution_id=r[3], ts=r[4]) if r else None

    def list_kept(self) -> list[KeptRow]:
        rows = self._all("SELECT name, contract_id, data_key, execution_id, ts FROM kept ORDER BY name")
        return [KeptRow(name=r[0], contract_id=r[1], data_key=r[2], execution_id=r[3], ts=r[4]) for r in rows]

    # -- app state -----------------------------------------------------------------
    def set_state(self, scope: str, key: str, value: Any) -> None:
        self._write("set_state", upsert("app_state", ("scope", "key", "value", "updated"), ("scope", "key")),
                    (scope, key, dumps(value), time.time()))

    def get_state(self, scope: str, key: str, default: Any = None) -> Any:
        r = self._one("SELECT value FROM app_state WHERE scope = ? AND key = ?", (scope, key))
        return default if r is None else loads(r[0], default)

    def delete_state(self, scope: str, key: str) -> None:
        self._write("delete_state", "DELETE FROM app_state WHERE scope = ? AND key = ?", (scope, key))

    def list_state(self, scope: str) -> dict[str, Any]:
        return {k: loads(v) for k, v in self._all("SELECT key, value FROM app_state WHERE scope = ? ORDER BY key", (scope,))}

    # -- settings ------------------------------------------------------------------
    def get_setting(self, key: str) -> str | None:
        r = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return r[0] if r else None

    def set_setting(self, key: str, value: str | None) -> None:
        if value is None:
            self._write("set_setting", "DELETE FROM settings WHERE key = ?", (key,))
        else:
            self._write("set_setting", upsert("settings", ("key", "value"), ("key",)), (key, value))

    # -- nonces --------------------------------------------------------------------
    def use_nonce(self, agent: str, nonce: str, ts: float) -> None:
        # One statement (atomic by itself): a nonce already there inserts nothing.
        # PostgreSQL: sent with the transaction's next statement, which raises the ReplayError
        self._write_later("use_nonce", "INSERT INTO nonces (agent, nonce, ts) VALUES (?, ?, ?)"
                                       " ON CONFLICT (agent, nonce) DO NOTHING", (agent, nonce, ts),
                          missing=lambda: ReplayError(f"request nonce already used by {agent} (replayed request)"))

    def prune_nonces(self, before: float) -> int:
        return self._write("prune_nonces", "DELETE FROM nonces WHERE ts < ?", (before,))

    # -- transactions -----------------------------------------------------------------
    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        with self._lock:
            self._clear_interrupted()
            if self._depth:  # inside a transaction: its own reads are one state already
                yield
                return
            try:  # begun inside: an interrupt just after BEGIN must not leave it open
                self._begin_snapshot()
                self._open_tx_state()
                yield
            finally:
                self._close_tx_state()
                self._end_snapshot()  # nothing to keep: a snapshot writes nothing

    def _begin_snapshot(self) -> None:
        """Begin a transaction that reads one state of the store and takes no write lock."""
        raise NotImplementedError

    def _end_snapshot(self) -> None:
        """End it (a rollback)."""
        raise NotImplementedError

    _no_wait = False  # the next outermost transaction takes the write lock only if it is free

    @contextlib.contextmanager
    def without_waiting(self) -> Iterator[None]:
        """Run the block only if no other thread of this process is using the store, and make its
        transactions wait for the write lock another process holds only briefly (SQLite: not at
        all; PostgreSQL: `pg.QUICK_LOCK_WAIT`, about what another worker's approval holds it),
        until one commits: else `Busy`, raised before anything of the block was committed, so the
        caller may run the block again elsewhere (a refused action, rolled back, writes its
        refusal entry in a second transaction: red team session 15). Once one has committed, the
        later ones wait as any other. The block keeps the store to itself (its reads wait for no
        one here). For a caller that must not wait long for a lock: the server's event loop runs
        short actions so, and hands them to a thread when it is busy."""
        if not self._lock.acquire(blocking=False):
            raise Busy("the escrow database is in use by another request of this process")
        try:
            self._no_wait = True
            yield
        finally:
            self._no_wait = False
            self._lock.release()

    def _clear_interrupted(self) -> None:
        """With the lock held, before a transaction or snapshot begins: bookkeeping that says one
        is open when none is, because an interrupt (Ctrl-C) cut the cleanup of the last one short,
        is cleared. Else `_depth` stayed 1, every later transaction of the process would have been
        a nested block of a dead one, and the process refused every write (red team session 14,
        P2). The lock is held through a whole transaction, so one open here is this thread's."""
        if self._depth and not (self._owner == threading.get_ident() and self._still_open()):
            self._close_tx_state()

    def _still_open(self) -> bool:
        """Whether the transaction (or snapshot) the bookkeeping says is open is open."""
        raise NotImplementedError

    def _open_tx_state(self) -> None:
        """The bookkeeping of an outermost transaction (or snapshot) this thread has just begun."""
        self._depth, self._owner, self._before_commit, self._tx_head = 1, threading.get_ident(), [], None
        self._begin_head, self._tx_marks, self._aborted = _UNREAD, {}, False

    def _close_tx_state(self) -> None:
        """The bookkeeping once that transaction (or snapshot) ended, committed or not."""
        self._depth, self._owner, self._before_commit, self._tx_head = 0, None, [], None
        self._begin_head, self._tx_marks, self._aborted = _UNREAD, {}, False

    def _savepoint_undone(self, head) -> None:
        """The bookkeeping once a nested block was rolled back to its savepoint: `head` is the
        transaction's own head when the block began; the marks read since may count its entries."""
        self._tx_head, self._aborted = head, False
        self._tx_marks.clear()

    # -- audit ---------------------------------------------------------------------
    # Within a transaction the committed head record is read once (`_begin_head`; PostgreSQL reads
    # it in the round trip that begins the transaction), as is the mark of `_PREFETCHED_MARK`.
    # Inside a write transaction the head is kept in memory (`_tx_head`): each entry is one INSERT,
    # and the head record is written once, just before the commit (`_flush_head`). The write lock
    # (SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory lock) keeps every other writer out meanwhile,
    # and the record is written in the same transaction as the entries, so it is never seen apart
    # from them. The backends reset `_tx_head` when a transaction begins or ends and restore it
    # when a savepoint is rolled back.
    _tx_head: tuple[int, str, str] | None = None
    _begin_head: Any = _UNREAD  # the committed head record as this transaction read it
    _tx_marks: dict = {}
    _aborted = False  # a statement run without a savepoint failed: the transaction can only roll back

    _HEAD = "SELECT seq, hash, signature FROM audit_head WHERE id = 1"
    _MARK = ("SELECT k.n, a.seq, a.hash FROM (SELECT count(*) AS n, max(seq) AS m FROM audit WHERE kind = ?) k"
             " JOIN audit a ON a.seq = k.m")
    #: the mark every signed request reads (`audit.bound_agent_key`: the entries binding agents' keys)
    _PREFETCHED_MARK = "agent_created"

    @staticmethod
    def _head_of(r: tuple | None) -> tuple[int, str, str] | None:
        return (int(r[0]), r[1], r[2]) if r else None

    @staticmethod
    def _mark_of(r: tuple | None) -> tuple[int, int, str] | None:
        return None if r is None else (int(r[0]), int(r[1]), r[2])

    def audit_head(self) -> tuple[int, str, str] | None:
        if not self.in_transaction:
            return self._head_of(self._one(self._HEAD))
        if self._tx_head is not None:
            return self._tx_head
        if self._begin_head is _UNREAD:
            self._begin_head = self._head_of(self._one(self._HEAD))
        return self._begin_head

    def audit_mark(self, kind: str) -> tuple[int, int, str] | None:
        if not self.in_transaction:
            return self._mark_of(self._one(self._MARK, (kind,)))
        mark = self._tx_marks.get(kind, _UNREAD)
        if mark is _UNREAD:
            mark = self._tx_marks[kind] = self._mark_of(self._one(self._MARK, (kind,)))
        return mark

    # who may read an entry of no contract (`entry_readers`), written with it (`audit_about`); an
    # entry of a contract is found through the contract's parties (indexing those too cost 11 % of
    # the instructions of a proposal and its approval)
    _ENTRY_READER = "INSERT INTO audit_readers (agent, seq) VALUES (?, ?)"
    _INSERT_ENTRY = ("INSERT INTO audit (seq, ts, kind, actor, contract, payload, prev_hash, hash, signature)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")

    def audit_insert(self, entry: AuditEntry, head_signature: str | None = None, *,
                     payload_text: str | None = None) -> None:
        if not self.in_transaction:
            with self.transaction():
                return self.audit_insert(entry, head_signature, payload_text=payload_text)
        # the next sequence number, taken under the write lock: no constraint refuses it
        self._write_later(
            "audit_insert", self._INSERT_ENTRY,
            (entry.seq, entry.ts, entry.kind, entry.actor, entry.contract,
             dumps(entry.payload) if payload_text is None else payload_text, entry.prev_hash, entry.hash,
             entry.signature),
        )
        if entry.contract is None:
            self._write_many("audit_insert", self._ENTRY_READER,
                             [(agent, entry.seq) for agent in entry_readers(entry.actor, entry.payload)],
                             later=True)
        self._tx_marks.pop(entry.kind, None)
        self._tx_head = (entry.seq, entry.hash, head_signature or "")
        self.before_commit(self._flush_head)

    def _flush_head(self) -> None:
        head, self._tx_head = self._tx_head, None
        if head is not None:
            self._write_later("audit_head", self._SET_HEAD, (1, *head))

    _SET_HEAD = upsert("audit_head", ("id", "seq", "hash", "signature"), ("id",))

    def set_audit_head(self, seq: int, hash_: str, signature: str) -> None:
        if self._tx_head is not None and self.in_transaction:
            self._tx_head = (seq, hash_, signature)  # written by `_flush_head` at the commit
            return
        self._write("audit_head", self._SET_HEAD, (1, seq, hash_, signature))
        self._begin_head = _UNREAD  # after the write: a batch sent with it may have taken the old record

    _AUDIT_COLUMNS = "SELECT audit.seq, ts, kind, actor, contract, payload, prev_hash, hash, signature"
    _AUDIT = _AUDIT_COLUMNS + " FROM audit"

    @staticmethod
    def _entry(r: tuple) -> AuditEntry:
        payload = loads(r[5], None)
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
            if agent is not None and not mentions(entry, agent):
                continue
            yield entry

    # Through the index an agent's entries are found one contract at a time and sorted, a cost that
    # grows with its contracts (240-300 ms a page at 100,000, which anyone can make an agent party
    # to by proposing them over its data). An agent party to at least this many reads the part of
    # the log only its first contracts can have entries in through their index, then the log in seq
    # order (`_scan_about`: a page costs the entries passed over, few where the log is mostly about
    # the agent), and the index only for what is left.
    MANY_CONTRACTS = 1000
    # the entries the seq-order read passes over at most before it hands over to the index: as many
    # as the agent has contracts (an entry passed over costs about what a contract read through
    # the index costs), and no more than this
    SCAN_BUDGET = 8192

    def audit_about(self, agent: str, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        # Each entry found through an index is checked against its own content and its contract's
        # row (a row of either index written by hand shows nothing).
        out: list[AuditEntry] = []
        # the agent's contracts, counted up to the budget: what reading through the index costs
        many = self._one("SELECT count(*) FROM (SELECT 1 FROM contract_parties WHERE agent = ? LIMIT ?) AS many",
                         (agent, self.SCAN_BUDGET))[0] if limit > 0 else 0
        if many >= self.MANY_CONTRACTS:
            # Up to the `since` of the agent's (MANY_CONTRACTS + 1)-th contract the log holds entries
            # of its first contracts only (each entry comes after its contract's since): those few
            # are read through the index (the first page of an agent with older contracts, before
            # the many proposed over its data).
            r = self._one("SELECT since FROM contract_parties WHERE agent = ? ORDER BY since LIMIT 1 OFFSET ?",
                          (agent, self.MANY_CONTRACTS))
            if r is not None and after_seq < r[0]:
                out, after_seq = self._index_about(agent, after_seq, limit, upto=r[0])
                if len(out) == limit:
                    return out
            found, after_seq, complete = self._scan_about(agent, after_seq, limit - len(out), budget=many)
            out += found
            if complete:
                return out
        return out + self._index_about(agent, after_seq, limit - len(out))[0]

    # the entries in (after, upto] of the agent's contracts stored before `upto` (the only ones
    # that can have entries there: contract_parties, then the audit_contract index) and those of no
    # contract it reads (audit_readers), merged in seq order
    _READABLE = (f"SELECT * FROM ({_AUDIT_COLUMNS} FROM audit WHERE seq > ? AND seq <= ? AND contract IN"
                 f" (SELECT contract_id FROM contract_parties WHERE agent = ? AND since < ?)"
                 f" UNION ALL {_AUDIT_COLUMNS} FROM audit_readers r CROSS JOIN audit"
                 f" WHERE r.agent = ? AND r.seq > ? AND r.seq <= ? AND audit.seq = r.seq) AS readable"
                 f" ORDER BY seq LIMIT ?")

    def _index_about(self, agent: str, after_seq: int, limit: int, *,
                     upto: int = MAX_SEQ) -> tuple[list[AuditEntry], int]:
        """`audit_about` through the indexes, up to seq `upto` (the whole log by default): (the
        entries, the seq read to: `upto` once that part of the log is read to its end)."""
        out: list[AuditEntry] = []
        while len(out) < limit:
            want = limit - len(out)
            entries = [self._entry(r) for r in self._all(
                self._READABLE, (after_seq, upto, agent, upto, agent, after_seq, upto, want))]
            out += self._readable(agent, entries)
            if len(entries) < want:
                return out, upto  # no more: the index is read to its end
            after_seq = entries[-1].seq  # some were refused: read on
        return out, after_seq

    # the entries in (lo, hi] the indexes give `agent`: of a contract whose key in contract_parties
    # (found from the contract's row) names it, or of no contract with its row in audit_readers
    # (SQLite checks each entry through the indexes; PostgreSQL needs the same said otherwise)
    _SCAN = (_AUDIT_COLUMNS + " FROM audit WHERE seq > ? AND seq <= ? AND CASE WHEN contract IS NULL"
             " THEN EXISTS (SELECT 1 FROM audit_readers r WHERE r.agent = ? AND r.seq = audit.seq)"
             " ELSE EXISTS (SELECT 1 FROM contracts c CROSS JOIN contract_parties p WHERE c.id = audit.contract"
             " AND p.agent = ? AND p.created = c.created AND p.contract_id = c.id) END ORDER BY seq LIMIT ?")

    def _scan_about(self, agent: str, after_seq: int, limit: int, *,
                    budget: int) -> tuple[list[AuditEntry], int, bool]:
        """`audit_about` read in seq order, in spans of the log that double, until `limit` entries
        are found, the log ends, or `budget` entries are passed over or would be at the rate found
        so far: (the entries found, the last seq read, whether the answer is complete)."""
        end = self._one("SELECT max(seq) FROM audit")[0] or 0
        out: list[AuditEntry] = []
        span, spent = 2 * limit + 16, 0
        while after_seq < end and spent < budget:
            hi, want = min(end, after_seq + min(span, budget - spent)), limit - len(out)
            rows = self._all(self._SCAN, (after_seq, hi, agent, agent, want))
            out += self._readable(agent, [self._entry(r) for r in rows])
            reached = rows[-1][0] if len(rows) == want else hi  # a full answer: read on after its last
            spent, after_seq, span = spent + reached - after_seq, reached, span * 2
            if len(out) == limit:
                return out, after_seq, True
            if spent * limit > budget * max(len(out), 1):
                break  # at the rate found so far the page would pass over more than the budget
        return out, after_seq, after_seq >= end

    def _readable(self, agent: str, entries: list[AuditEntry]) -> list[AuditEntry]:
        """Those of `entries` that `agent` may read, judged by each entry and its contract's row."""
        parties = self._parties({e.contract for e in entries if e.contract is not None})
        return [e for e in entries if agent in (parties.get(e.contract, ()) if e.contract is not None
                                                else entry_readers(e.actor, e.payload))]

    def _parties(self, contract_ids: set[str]) -> dict[str, list[str]]:
        """{contract id: its parties} read from the contracts' own rows."""
        ids, out = sorted(contract_ids), {}
        for i in range(0, len(ids), self._BUNDLES_CHUNK):
            chunk = ids[i:i + self._BUNDLES_CHUNK]
            for cid, proposer, sources, recipients in self._all(
                    f"SELECT id, proposer, source_agents, recipients FROM contracts"
                    f" WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk)):
                out[cid] = stored_party_names(proposer, sources, recipients)
        return out

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
            # a tampered, undecodable payload must not make the query fail: the field is NULL then
            expr, expr_params = self._json_field_sql(field)
            sql += f" AND {expr} = ?"
            params += [*expr_params, value]
        return [self._entry(r) for r in self._all(sql + " ORDER BY seq", tuple(params))]

    def audit_raw(self) -> list[tuple]:
        """Rows exactly as stored (for `dsc audit verify`, which hashes the stored payload text)."""
        return self._all(
            "SELECT seq, ts, kind, actor, contract, payload, prev_hash, hash, signature FROM audit ORDER BY seq"
        )

    def audit_count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM audit")[0])


def mentions(entry: AuditEntry, agent: str) -> bool:
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
