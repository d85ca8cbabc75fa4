"""Ordered schema migrations for the SQLite store.

`MIGRATIONS[i]` takes a database at version i to version i+1. Never edit a released
migration: append a new one. Each runs inside the caller's transaction, together with the
`schema_version` update, so a crash mid-migration leaves the previous version intact.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Callable

from .base import stored_entry_readers, stored_party_rows


def _v1_core(db: sqlite3.Connection) -> None:
    for stmt in (
        """CREATE TABLE agents (
            name TEXT PRIMARY KEY,
            display TEXT NOT NULL DEFAULT '',
            public_key TEXT NOT NULL,
            created REAL NOT NULL)""",
        """CREATE TABLE data (
            key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            format TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            inferred_schema TEXT,
            declared_schema TEXT,
            derived INTEGER NOT NULL DEFAULT 0,
            provenance TEXT NOT NULL DEFAULT '[]',
            created REAL NOT NULL)""",
        "CREATE INDEX data_owner ON data(owner)",
        """CREATE TABLE contracts (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            canonical TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            function_hashes TEXT NOT NULL DEFAULT '{}',
            proposer TEXT NOT NULL,
            status TEXT NOT NULL,
            inputs TEXT NOT NULL DEFAULT '[]',
            recipients TEXT NOT NULL DEFAULT '[]',
            source_agents TEXT NOT NULL DEFAULT '[]',
            created REAL NOT NULL,
            updated REAL NOT NULL)""",
        "CREATE INDEX contracts_status ON contracts(status)",
        """CREATE TABLE approvals (
            contract_id TEXT NOT NULL REFERENCES contracts(id),
            agent TEXT NOT NULL,
            signature TEXT NOT NULL,
            via_policy TEXT,
            ts REAL NOT NULL,
            PRIMARY KEY (contract_id, agent))""",
        """CREATE TABLE rejections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            contract_id TEXT NOT NULL REFERENCES contracts(id),
            agent TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            via_policy TEXT,
            ts REAL NOT NULL)""",
        "CREATE INDEX rejections_contract ON rejections(contract_id)",
        """CREATE TABLE policies (
            owner TEXT PRIMARY KEY,
            rules TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            updated REAL NOT NULL)""",
        """CREATE TABLE executions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            contract_id TEXT NOT NULL REFERENCES contracts(id),
            actor TEXT NOT NULL,
            status TEXT NOT NULL,
            started REAL NOT NULL,
            finished REAL,
            detail TEXT NOT NULL DEFAULT '{}')""",
        "CREATE INDEX executions_contract ON executions(contract_id)",
        """CREATE TABLE releases (
            contract_id TEXT NOT NULL REFERENCES contracts(id),
            recipient TEXT NOT NULL,
            path TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            execution_id INTEGER REFERENCES executions(id),
            ts REAL NOT NULL,
            PRIMARY KEY (contract_id, recipient))""",
        """CREATE TABLE audit (
            seq INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT,
            contract TEXT,
            payload TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL,
            signature TEXT NOT NULL)""",
    ):
        db.execute(stmt)


def _v2_state(db: sqlite3.Connection) -> None:
    for stmt in (
        """CREATE TABLE kept (
            name TEXT PRIMARY KEY,
            contract_id TEXT NOT NULL REFERENCES contracts(id),
            data_key TEXT NOT NULL,
            execution_id INTEGER REFERENCES executions(id),
            ts REAL NOT NULL)""",
        """CREATE TABLE app_state (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated REAL NOT NULL,
            PRIMARY KEY (scope, key))""",
        """CREATE TABLE nonces (
            agent TEXT NOT NULL,
            nonce TEXT NOT NULL,
            ts REAL NOT NULL,
            PRIMARY KEY (agent, nonce))""",
        "CREATE INDEX nonces_ts ON nonces(ts)",
        # The signed head guards the end of the chain against silent truncation.
        """CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL,
            signature TEXT NOT NULL)""",
    ):
        db.execute(stmt)


def _v3_sizes_meta_inputs(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE data ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE contracts ADD COLUMN meta TEXT NOT NULL DEFAULT '{}'")
    db.execute(
        """CREATE TABLE contract_inputs (
            contract_id TEXT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
            data_key TEXT NOT NULL,
            PRIMARY KEY (data_key, contract_id))"""
    )
    rows = db.execute("SELECT id, inputs FROM contracts").fetchall()
    for cid, inputs in rows:
        for key in set(json.loads(inputs or "[]")):
            db.execute("INSERT INTO contract_inputs (contract_id, data_key) VALUES (?, ?)", (cid, key))
    db.execute("CREATE INDEX audit_contract ON audit(contract)")
    db.execute("CREATE INDEX audit_actor ON audit(actor)")


def _v4_integrity(db: sqlite3.Connection) -> None:
    """Outbox file hashes, settings (the audit log's genesis), indexes for the escrow's look-ups."""
    db.execute("ALTER TABLE releases ADD COLUMN file_hash TEXT")
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE INDEX audit_kind ON audit(kind)")
    db.execute("CREATE INDEX executions_status ON executions(status)")
    # A new store (nothing logged yet) gets a signed genesis entry first (written by the audit
    # log, which holds the key). An older store's log keeps its history and has none:
    # `dsc audit verify` says so.
    if db.execute("SELECT COUNT(*) FROM audit").fetchone()[0] == 0:
        db.execute("INSERT INTO settings (key, value) VALUES ('audit.genesis', 'pending')")


def _v5_contract_owners(db: sqlite3.Connection) -> None:
    """Who must approve each contract, indexed by agent (one agent's pending contracts without
    reading every contract), filled from the contracts already stored."""
    db.execute(
        """CREATE TABLE contract_owners (
            contract_id TEXT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
            agent TEXT NOT NULL,
            PRIMARY KEY (agent, contract_id))"""
    )
    for cid, agents in db.execute("SELECT id, source_agents FROM contracts").fetchall():
        for agent in set(json.loads(agents or "[]")):
            db.execute("INSERT INTO contract_owners (contract_id, agent) VALUES (?, ?)", (cid, agent))


def _v6_bundles(db: sqlite3.Connection) -> None:
    """Each proposal's bundle stored once (a file of many contracts was stored in every row)."""
    db.execute("CREATE TABLE bundles (sha256 TEXT PRIMARY KEY, body TEXT NOT NULL)")
    db.execute("ALTER TABLE contracts ADD COLUMN bundle_ref TEXT")


def _v7_kept_as(db: sqlite3.Connection) -> None:
    """The name each contract keeps its result as, in a column with an index: a proposal finds
    whether a name is taken with one look-up (it read every contract), filled from the rows' meta."""
    db.execute("ALTER TABLE contracts ADD COLUMN kept_as TEXT")
    db.execute("UPDATE contracts SET kept_as = json_extract(meta, '$.kept_as')"
               " WHERE json_valid(meta) AND json_type(meta, '$.kept_as') = 'text'")
    db.execute("CREATE INDEX contracts_kept_as ON contracts(kept_as)")


def _v8_contract_parties(db: sqlite3.Connection) -> None:
    """Every party of each contract (proposer, source agents, recipients; `owner` marks a source
    agent) in creation order per agent, and every reader of each log entry of no contract
    (`entry_readers`): what an agent may read is found, a page at a time, without reading every
    contract or every entry. Filled from the contracts and entries stored; it replaces
    `contract_owners` (the source agents alone)."""
    db.execute(
        """CREATE TABLE contract_parties (
            agent TEXT NOT NULL,
            created REAL NOT NULL,
            contract_id TEXT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
            owner INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (agent, created, contract_id)) WITHOUT ROWID"""  # the key is the row: one b-tree
    )
    db.execute("CREATE TABLE audit_readers (agent TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (agent, seq))"
               " WITHOUT ROWID")
    rows = db.execute("SELECT id, proposer, source_agents, recipients, created FROM contracts").fetchall()
    db.executemany("INSERT INTO contract_parties (agent, created, contract_id, owner) VALUES (?, ?, ?, ?)",
                   stored_party_rows(rows))
    db.executemany("INSERT INTO audit_readers (agent, seq) VALUES (?, ?)",
                   [(agent, seq) for seq, actor, payload in
                    db.execute("SELECT seq, actor, payload FROM audit WHERE contract IS NULL").fetchall()
                    for agent in stored_entry_readers(actor, payload)])
    db.execute("DROP TABLE contract_owners")


def _v9_party_since(db: sqlite3.Connection) -> None:
    """`since` on each row of `contract_parties`: a seq every log entry of the contract is after
    (the log's head when the contract was stored), with an index (agent, since): where the log can
    hold entries of an agent's contracts (`audit_about` of an agent party to many). Filled from the
    first entry of each contract stored (0 when it has none: no bound)."""
    db.execute("ALTER TABLE contract_parties ADD COLUMN since INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE contract_parties SET since = coalesce("
               "(SELECT min(seq) FROM audit WHERE audit.contract = contract_parties.contract_id), 1) - 1")
    db.execute("CREATE INDEX contract_parties_since ON contract_parties(agent, since)")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_core,
    _v2_state,
    _v3_sizes_meta_inputs,
    _v4_integrity,
    _v5_contract_owners,
    _v6_bundles,
    _v7_kept_as,
    _v8_contract_parties,
    _v9_party_since,
]

LATEST = len(MIGRATIONS)


def current_version(db: sqlite3.Connection) -> int:
    has = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if not has:
        return 0
    row = db.execute("SELECT version FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(db: sqlite3.Connection, target: int = LATEST, crash=None) -> int:
    """Bring `db` (autocommit connection) to `target`, one transaction per step; returns the new version."""
    version = current_version(db)
    if version > LATEST:
        from .base import StoreError

        raise StoreError(
            f"the escrow database has schema version {version}, newer than this dsc supports ({LATEST}); upgrade dsc"
        )
    while version < target:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(db)  # another process may have migrated meanwhile
            if version >= target:
                db.execute("COMMIT")
                break
            if version == 0:
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            MIGRATIONS[version](db)
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
            if crash:
                crash(f"migrate.v{version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        version += 1
    return version
