"""The escrow's persistent state: an abstract `Store`, the SQLite backend (the embedded default) and
the PostgreSQL backend (`store: {url: postgresql://...}`, for processes sharing one database;
see docs/store.md).

API overview (stable; the lifecycle code builds on this, never on SQL):

    from datastation.runtime.config import load_config
    from datastation.runtime.store import open_store, ContractRow, ApprovalRow, ...

    store = open_store(config)            # creates/migrates the database (SQLite or PostgreSQL)
    with store.transaction():             # ONE transaction per state change; nested use rejoins
        store.put_contract(ContractRow(...))
        audit.append("proposal", actor="bank1", contract=cid, payload={...})   # same transaction
    store.close()

Every mutating method runs inside the current transaction, or opens its own when called
outside one. Rows are frozen dataclasses (see `base.py`); JSON columns come back decoded.

  agents      add_agent(AgentRow) / get_agent(name) / list_agents()
  data        put_data(DataRow) (insert or replace) / put_data_many(rows) / get_data(key) / list_data(owner=None)
              / remove_data(key) / data_by_hash(owner, hash)
  contracts   put_bundle(text) -> sha256 / put_contract(ContractRow, bundle_ref=) (insert) / get_contract(id)
              / find_contracts(id_prefix) / list_contracts(status=, proposer=, name=)
              / set_contract_status(id, status) / contracts_using(data_key, statuses=OPEN_STATUSES)
              / contracts_keeping(name, statuses)
  approvals   add_approval(ApprovalRow) / approvals(contract_id) / remove_approvals(contract_id, agent=None)
  rejections  add_rejection(RejectionRow) / rejections(contract_id)
  policies    put_policy(PolicyRow) (one per owner, replaces) / get_policy(owner) / list_policies() / remove_policy
  executions  add_execution(ExecutionRow) -> id / finish_execution(id, status, detail) / executions(contract_id)
  releases    add_release(ReleaseRow) / releases(contract_id=None, recipient=None)
  kept        put_kept(KeptRow) / get_kept(name) / list_kept()
  app state   set_state(scope, key, value) / get_state(scope, key, default) / delete_state / list_state(scope)
  nonces      use_nonce(agent, nonce, ts) (raises ReplayError when seen) / prune_nonces(before)
  audit       audit_head() / audit_insert(AuditEntry) / audit_entries(contract=, agent=) / audit_raw() /
              audit_find(kinds, ...) / audit_mark(kind) -> (count, seq, hash)  -- use
              `datastation.runtime.audit.AuditLog` to append (hashing + signing), not these directly.

The escrow's services that build on the store live in `datastation.runtime.escrow`; keys and
signing in `datastation.runtime.keys`; the audit log in `datastation.runtime.audit`; content
files in `datastation.runtime.storage`. The store imports none of them.

Errors: `StoreError` (base), `NotFound`, `Conflict` (duplicate/constraint), `ReplayError`.
Crash testing: `datastation.runtime.crashpoints.crash_point(label)` kills the process with
SIGKILL when `DSC_CRASH_AT=label:n` is set and this is the n-th time that label is reached.
Contract statuses are `datastation.contracts.status.ContractStatus` values.
"""

from __future__ import annotations

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
    StoreFull,
    UnstorableText,
    storable,
)

__all__ = [
    "MAX_SEQ",
    "OPEN_STATUSES",
    "AgentRow",
    "ApprovalRow",
    "AuditEntry",
    "Busy",
    "Conflict",
    "ContractRow",
    "DataRow",
    "ExecutionRow",
    "KeptRow",
    "NotFound",
    "PolicyRow",
    "RejectionRow",
    "ReleaseRow",
    "ReplayError",
    "Store",
    "StoreError",
    "StoreFull",
    "UnstorableText",
    "storable",
    "open_store",
    "store_exists",
]


def open_store(config) -> Store:
    """Open (creating and migrating if needed) the store named by `config.store`."""
    backend = config.store.backend
    if backend == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(config.store.path, synchronous=getattr(config.store, "synchronous", "FULL"))
    if backend == "postgresql":
        from .pg import PostgresStore

        return PostgresStore(config.store.url)
    raise StoreError(f"unknown store backend {backend!r} (supported: sqlite, postgresql)")


def store_exists(config) -> bool:
    """Whether the store named by `config.store` was created (without creating it)."""
    if config.store.backend == "postgresql":
        from .pg import database_exists

        return database_exists(config.store.url)
    from pathlib import Path

    return Path(config.store.path).exists()
