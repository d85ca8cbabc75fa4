"""Escrow-side operations of the STORE layer: open an escrow, register agents, add/remove data.

    ctx = open_escrow(config)      # escrow key, store, storage (with its codec), audit log
    create_agent(ctx, "bank1", display="First Bank")
    req = sign_request_as(config, "bank1", "data.add", data_add_params(key, fmt, contents, ...))
    add_data(ctx, req, contents)   # verifies the signed request, stores, records, audits
    ctx.close()

Every refusal raises `EscrowRefusal` (with a stable `code`) after writing a `refusal` audit entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..audit import AuditLog
from ..keys import (
    AuthError,
    KeysError,
    SignedRequest,
    agent_key_path,
    check_name,
    create_agent_key,
    fingerprint,
    load_agent_key,
    load_or_create_escrow_key,
    public_pem,
    verify_request,
)
from ..storage import Storage, codec_for, sha256_hex
from . import AgentRow, Conflict, DataRow, Store, open_store
from .base import OPEN_STATUSES, StoreError
from .schema import SchemaError, compare_schema, infer_schema, normalise_declared


class EscrowRefusal(Exception):
    """The escrow refused a request; `code` is stable, the message is fit for a user."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class EscrowContext:
    config: Any
    store: Store
    storage: Storage
    audit: AuditLog
    escrow_key: Ed25519PrivateKey

    @property
    def escrow_public_pem(self) -> str:
        return public_pem(self.escrow_key)

    def verify(self, request: SignedRequest, action: str):
        """Verify a signed request (inside the caller's transaction); returns the AgentRow."""
        return verify_request(self.store, request, action=action, window_seconds=self.config.request_window_seconds)

    def refuse(self, code: str, message: str, *, actor: str | None, action: str,
               contract: str | None = None, **payload: Any) -> EscrowRefusal:
        """Record a refusal in the audit log (its own transaction) and return the exception to raise."""
        self.audit.append("refusal", actor=actor, contract=contract,
                          payload={"action": action, "code": code, "reason": message, **payload})
        return EscrowRefusal(code, message)

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_escrow(config, *, create: bool = True) -> EscrowContext:
    """Open the escrow of `config`, creating its directories, key and database on first use
    (with create=False a missing escrow is an error: for read-only commands)."""
    if not create and not Path(config.store.path).exists():
        raise StoreError(f"no escrow at {config.escrow_dir} (it is created by the first `dsc agent create`; "
                         "or pass --config)")
    try:
        config.escrow_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config.storage_path.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = load_or_create_escrow_key(config.escrow_key_path)
        store = open_store(config)
    except OSError as exc:
        raise StoreError(f"cannot open the escrow in {config.escrow_dir}: {exc.strerror or exc}"
                         + (f" ({exc.filename})" if exc.filename else "")) from None
    return EscrowContext(config, store, Storage(config.storage_path, lambda: codec_for(config)), AuditLog(store, key), key)


# ------------------------------------------------------------------ agents


def register_agent(ctx: EscrowContext, name: str, public_key_pem: str, display: str = "") -> AgentRow:
    """Register an agent's public key (agent_created audit entry in the same transaction)."""
    check_name(name)
    fp = fingerprint(public_key_pem)  # validates the key
    row = AgentRow(name=name, display=display, public_key=public_key_pem, created=time.time())
    with ctx.store.transaction():
        if ctx.store.get_agent(name):
            raise EscrowRefusal("agent_exists", f"agent {name!r} is already registered with this escrow")
        ctx.store.add_agent(row)
        ctx.audit.append("agent_created", actor=name, payload={"agent": name, "display": display, "key": fp})
    return row


def create_agent(ctx: EscrowContext, name: str, display: str = "", passphrase: bytes | None = None) -> AgentRow:
    """Make a key pair in the keyring (0600) and register its public key.

    If a key file for `name` exists but the agent is not registered (a crash between the two
    steps), that key is registered instead of failing.
    """
    check_name(name)
    if ctx.store.get_agent(name):
        raise EscrowRefusal("agent_exists", f"agent {name!r} is already registered with this escrow")
    path = agent_key_path(ctx.config.keyring_path, name)
    if path.exists():
        key = load_agent_key(ctx.config.keyring_path, name, passphrase)
    else:
        key = create_agent_key(ctx.config.keyring_path, name, passphrase)
    return register_agent(ctx, name, public_pem(key), display)


# ------------------------------------------------------------------ data


def split_key(key: str) -> tuple[str, str]:
    owner, dot, name = key.partition(".")
    if not dot:
        raise EscrowRefusal("bad_key", f"data key {key!r} must be OWNER.NAME")
    try:
        check_name(owner, "owner")
        check_name(name, "data")
    except KeysError as exc:
        raise EscrowRefusal("bad_key", str(exc)) from None
    return owner, name


def data_add_params(key: str, fmt: str, contents: bytes, declared_schema: dict | None = None,
                    replace: bool = False) -> dict[str, Any]:
    """The signed parameters of a `data.add` request (binds the signature to the contents)."""
    return {"key": key, "format": fmt, "content_hash": sha256_hex(contents), "size": len(contents),
            "declared_schema": declared_schema, "replace": bool(replace)}


def add_data(ctx: EscrowContext, request: SignedRequest, contents: bytes) -> DataRow:
    """Register (or, with params.replace, replace) the data element of a signed `data.add` request."""
    p = request.params
    action, claimed = "data.add", request.agent
    key = p.get("key")
    try:
        if not isinstance(key, str):
            raise EscrowRefusal("bad_request", "data.add request without a data key")
        owner, _ = split_key(key)
        fmt = p.get("format")
        if sha256_hex(contents) != p.get("content_hash"):
            raise EscrowRefusal("content_mismatch", "the contents do not match the signed content hash")
        try:
            inferred = infer_schema(contents, fmt)
            declared = normalise_declared(p["declared_schema"]) if p.get("declared_schema") is not None else None
        except SchemaError as exc:
            raise EscrowRefusal("bad_data", f"{key}: {exc}") from None
        if declared is not None:
            problems = compare_schema(declared, inferred)
            if problems:
                raise EscrowRefusal("schema_mismatch", f"{key} does not match its declared schema: " + "; ".join(problems))
    except EscrowRefusal as exc:
        raise ctx.refuse(exc.code, str(exc), actor=claimed, action=action, key=key) from None

    h = sha256_hex(contents)
    # Written before the transaction: a crash leaves at most an unreferenced file (gc'd later).
    ctx.storage.put(contents, owner)
    row = DataRow(key=key, owner=owner, format=fmt, content_hash=h, size=len(contents), inferred_schema=inferred,
                  declared_schema=declared, created=time.time())
    old = None
    try:
        with ctx.store.transaction():
            try:
                agent = ctx.verify(request, action)
            except AuthError as exc:
                raise EscrowRefusal(exc.code, str(exc)) from None
            if agent.name != owner:
                raise EscrowRefusal("not_owner", f"only {owner} may add or replace {key} (request signed by {agent.name})")
            old = ctx.store.get_data(key)
            if old is not None:
                if not p.get("replace"):
                    raise EscrowRefusal("data_exists", f"{key} is already registered; pass --replace to replace it")
                if old.owner != agent.name:
                    raise EscrowRefusal("not_owner", f"only {old.owner} may replace {key}")
                _refuse_if_used(ctx, key, "replace")
            ctx.store.put_data(row)
            ctx.audit.append(
                "data_replace" if old else "data_add", actor=agent.name,
                payload={"key": key, "owner": owner, "format": fmt, "content_hash": h, "size": len(contents),
                         "schema": inferred, **({"previous_hash": old.content_hash} if old else {})},
            )
    except EscrowRefusal as exc:
        _drop_unreferenced(ctx, owner, h)
        raise ctx.refuse(exc.code, str(exc), actor=claimed, action=action, key=key) from None
    if old is not None and old.content_hash != h:
        _drop_unreferenced(ctx, old.owner, old.content_hash)
    return row


def remove_data(ctx: EscrowContext, request: SignedRequest) -> DataRow:
    """Remove the data element of a signed `data.remove` request (owner only; not while in use)."""
    key = request.params.get("key")
    action, claimed = "data.remove", request.agent
    try:
        with ctx.store.transaction():
            try:
                agent = ctx.verify(request, action)
            except AuthError as exc:
                raise EscrowRefusal(exc.code, str(exc)) from None
            row = ctx.store.get_data(key) if isinstance(key, str) else None
            if row is None:
                raise EscrowRefusal("no_data", f"no data element {key!r}")
            if row.owner != agent.name:
                raise EscrowRefusal("not_owner", f"only {row.owner} may remove {key} (request signed by {agent.name})")
            _refuse_if_used(ctx, key, "remove")
            ctx.store.remove_data(key)
            ctx.audit.append("data_remove", actor=agent.name,
                             payload={"key": key, "owner": row.owner, "content_hash": row.content_hash})
    except EscrowRefusal as exc:
        raise ctx.refuse(exc.code, str(exc), actor=claimed, action=action, key=key) from None
    _drop_unreferenced(ctx, row.owner, row.content_hash)
    return row


def _refuse_if_used(ctx: EscrowContext, key: str, verb: str) -> None:
    using = ctx.store.contracts_using(key, OPEN_STATUSES)
    if using:
        names = ", ".join(f"{c.name} ({c.id[:12]}, {c.status})" for c in using[:5])
        more = f" and {len(using) - 5} more" if len(using) > 5 else ""
        raise EscrowRefusal("data_in_use", f"cannot {verb} {key}: used by pending contract(s) {names}{more}")


def _drop_unreferenced(ctx: EscrowContext, owner: str, content_hash: str) -> None:
    if not ctx.store.data_by_hash(owner, content_hash):
        ctx.storage.delete(owner, content_hash)


def read_data(ctx: EscrowContext, key: str) -> bytes:
    """The plaintext contents of a registered data element (no access check: executors check)."""
    row = ctx.store.get_data(key)
    if row is None:
        raise EscrowRefusal("no_data", f"no data element {key!r}")
    return ctx.storage.get(row.owner, row.content_hash)


def referenced_objects(store: Store) -> set[tuple[str, str]]:
    return {(d.owner, d.content_hash) for d in store.list_data()}


__all__ = [
    "Conflict", "EscrowContext", "EscrowRefusal", "add_data", "create_agent", "data_add_params", "open_escrow",
    "read_data", "referenced_objects", "register_agent", "remove_data", "split_key",
]


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is fit for a user (CLI: print `dsc: error: MSG`, exit 1)."""
    from ..config import ConfigError
    from ..storage import StorageError
    from .base import StoreError

    return (EscrowRefusal, AuthError, KeysError, ConfigError, StoreError, StorageError, SchemaError)
