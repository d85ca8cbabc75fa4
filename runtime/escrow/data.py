"""Data elements: an owner adds, replaces or removes its data (signed requests), and the
contents are stored (encrypted at rest under no_trust) beside a row that records them.

    req = escrow.sign_as("bank1", DATA_ADD, data_add_params(key, fmt, contents, ...))
    add_data(ctx, req, contents)   # verifies the signed request, stores, records, audits

A refused add tells the requester what is wrong with its file, but the audit log (which every
party reads) records only the kind of problem: never a value, a row or a column name from it.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from datastation.contracts.provenance import owner_of

from ..keys import KeysError, SignedRequest, check_name
from ..storage import sha256_hex
from ..store import DataRow, Store
from ..data_schema import SchemaError, compare_schema, infer_schema, infer_schema_path, normalise_declared
from .actions import DATA_ADD, DATA_REMOVE
from .context import EscrowContext, EscrowRefusal, Unauthenticated, data_about, signed_action


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
    return _add(ctx, request, sha256_hex(contents), len(contents), lambda fmt: infer_schema(contents, fmt),
                lambda owner: ctx.storage.put(contents, owner))


def add_data_file(ctx: EscrowContext, request: SignedRequest, path: str | Path) -> DataRow:
    """`add_data` with the contents in a file (a server's streamed upload): hashed, inferred and
    stored chunk by chunk, never read whole into memory."""
    h, size = file_sha256(path)
    return _add(ctx, request, h, size, lambda fmt: infer_schema_path(path, fmt),
                lambda owner: ctx.storage.put_file(path, owner, h))


def file_sha256(path: str | Path) -> tuple[str, int]:
    """(sha256 hex, size) of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _add(ctx: EscrowContext, request: SignedRequest, h: str, size: int, infer, put) -> DataRow:
    p = request.params
    key = p.get("key")
    try:
        owner, fmt, inferred, declared = _checked_contents(p, h, infer)
    except EscrowRefusal as exc:
        # audited only for a request that authenticates (else `Unauthenticated` propagates, unaudited)
        problem = exc

        def refuse(agent: str):
            raise EscrowRefusal(problem.code, _AUDITED_REASON.get(problem.code, str(problem)))

        try:
            signed_action(ctx, request, DATA_ADD, refuse, key=key if isinstance(key, str) else None)
        except Unauthenticated:
            raise
        except EscrowRefusal:
            pass
        raise EscrowRefusal(exc.code, str(exc)) from None

    row = DataRow(key=key, owner=owner, format=fmt, content_hash=h, size=size, inferred_schema=inferred,
                  declared_schema=declared, created=time.time())

    def body(agent: str) -> DataRow | None:
        if agent != owner:
            raise EscrowRefusal("not_owner", f"only {owner} may add or replace {key} (request signed by {agent})")
        old = ctx.store.get_data(key)
        if old is None:
            twin = next((d.key for d in ctx.store.list_data() if d.key.casefold() == key.casefold()), None)
            if twin is not None:
                raise EscrowRefusal("name_confusable", f"data element {key} differs from {twin} only in case: "
                                                       f"choose another name")
        if old is not None:
            if not p.get("replace"):
                raise EscrowRefusal("data_exists", f"{key} is already registered; pass --replace to replace it")
            if old.owner != agent:
                raise EscrowRefusal("not_owner", f"only {old.owner} may replace {key}")
            _refuse_if_used(ctx, key, "replace")
        ctx.store.put_data(row)
        ctx.audit.append(
            "data_replace" if old else "data_add", actor=agent,
            payload={"key": key, "owner": owner, "format": fmt, "content_mac": ctx.mac(h, about=data_about(key)), "size": size,
                     "schema": inferred, **({"previous_mac": ctx.mac(old.content_hash, about=data_about(key))} if old else {})},
        )
        return old

    try:
        # The file is written before the transaction that records it: a crash in between leaves an
        # unreferenced file, which the next open of the escrow collects (`Storage.collect`).
        with ctx.storage.writing():
            put(owner)
            old = signed_action(ctx, request, DATA_ADD, body, key=key)
    except EscrowRefusal:
        _drop_unreferenced(ctx, owner, h)
        raise
    if old is not None and old.content_hash != h:
        _drop_unreferenced(ctx, old.owner, old.content_hash)
    return row


# What the audit log says of a refusal whose message would quote the file (its rows, its columns).
_AUDITED_REASON = {
    "bad_data": "the contents cannot be read as data of the stated format (details went to the requester only)",
    "schema_mismatch": "the contents do not match the declared schema (details went to the requester only)",
}


def _checked_contents(p: dict, content_hash: str, infer) -> tuple[str, str, dict, dict | None]:
    """(owner, format, inferred schema, declared schema) of a `data.add` request, or a refusal."""
    key = p.get("key")
    if not isinstance(key, str):
        raise EscrowRefusal("bad_request", "data.add request without a data key")
    owner, _ = split_key(key)
    fmt = p.get("format")
    if content_hash != p.get("content_hash"):
        raise EscrowRefusal("content_mismatch", "the contents do not match the signed content hash")
    try:
        inferred = infer(fmt)
        declared = normalise_declared(p["declared_schema"]) if p.get("declared_schema") is not None else None
    except SchemaError as exc:
        raise EscrowRefusal("bad_data", f"{key}: {exc}") from None
    if declared is not None:
        problems = compare_schema(declared, inferred)
        if problems:
            raise EscrowRefusal("schema_mismatch", f"{key} does not match its declared schema: " + "; ".join(problems))
    return owner, fmt, inferred, declared


def remove_data(ctx: EscrowContext, request: SignedRequest) -> DataRow:
    """Remove the data element of a signed `data.remove` request (owner only; not while in use)."""
    key = request.params.get("key")

    def body(agent: str) -> DataRow:
        # another agent's key is refused by its name alone: whether it exists is not told
        if isinstance(key, str) and owner_of(key) != agent:
            raise EscrowRefusal("not_owner", f"only {owner_of(key)} may remove {key} (request signed by {agent})")
        row = ctx.store.get_data(key) if isinstance(key, str) else None
        if row is None:
            raise EscrowRefusal("no_data", f"no data element {key!r}")
        if row.owner != agent:
            raise EscrowRefusal("not_owner", f"only {row.owner} may remove {key} (request signed by {agent})")
        _refuse_if_used(ctx, key, "remove")
        ctx.store.remove_data(key)
        ctx.audit.append("data_remove", actor=agent,
                         payload={"key": key, "owner": row.owner,
                                  "content_mac": ctx.mac(row.content_hash, about=data_about(key))})
        return row

    row = signed_action(ctx, request, DATA_REMOVE, body, key=key)
    _drop_unreferenced(ctx, row.owner, row.content_hash)
    return row


def _refuse_if_used(ctx: EscrowContext, key: str, verb: str) -> None:
    using = ctx.store.contracts_using(key)
    if using:
        names = ", ".join(f"{c.name} ({c.id[:12]}, {c.status})" for c in using[:5])
        more = f" and {len(using) - 5} more" if len(using) > 5 else ""
        raise EscrowRefusal("data_in_use", f"cannot {verb} {key}: used by pending contract(s) {names}{more}")


def _drop_unreferenced(ctx: EscrowContext, owner: str, content_hash: str) -> None:
    ctx.storage.discard(owner, content_hash, lambda: bool(ctx.store.data_by_hash(owner, content_hash)))


def read_data(ctx: EscrowContext, key: str) -> bytes:
    """The plaintext contents of a registered data element (no access check: executors check)."""
    row = ctx.store.get_data(key)
    if row is None:
        raise EscrowRefusal("no_data", f"no data element {key!r}")
    return ctx.storage.get(row.owner, row.content_hash)


def referenced_objects(store: Store) -> set[tuple[str, str]]:
    return {(d.owner, d.content_hash) for d in store.list_data()}
