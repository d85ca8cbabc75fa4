"""The audit log: append-only, hash-chained, each entry signed by the escrow key.

Entry hash = sha256(canonical JSON [seq, ts, kind, actor, contract, payload_text, prev_hash]),
where payload_text is the canonical JSON of the payload exactly as stored. The escrow signs
the hash, and signs a head record (last seq + hash; once per transaction, before it commits)
so truncating the tail is detected too.
Append inside the transaction of the state change the entry records.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any, Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .keys import canonical_json, sign, verify
from .crashpoints import crash_point
from .store import AuditEntry, Store

GENESIS = "0" * 64

# Kinds of entries (free text is accepted; these are the ones the escrow writes).
KINDS = (
    "agent_created",
    "data_add",
    "data_replace",
    "data_remove",
    "proposal",
    "approval",
    "rejection",
    "revocation",
    "policy_apply",
    "policy_decision",
    "execution",
    "data_read",
    "short_circuit",
    "condition",
    "release",
    "kept",
    "app_state",
    "refusal",
)


def entry_hash(seq: int, ts: float, kind: str, actor: str | None, contract: str | None, payload_text: str, prev_hash: str) -> str:
    return hashlib.sha256(canonical_json([seq, ts, kind, actor, contract, payload_text, prev_hash])).hexdigest()


def head_message(seq: int, hash_: str) -> bytes:
    return f"datastation-audit-head:{seq}:{hash_}".encode()


class AuditLog:
    """Appends entries to the store's audit table, signed with the escrow key."""

    def __init__(self, store: Store, key: Ed25519PrivateKey):
        self.store = store
        self.key = key

    def append(self, kind: str, *, actor: str | None = None, contract: str | None = None,
               payload: dict[str, Any] | None = None, ts: float | None = None) -> AuditEntry:
        payload = dict(payload or {})
        payload_text = canonical_json(payload).decode()
        with self.store.transaction():
            head = self.store.audit_head()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
            ts = round(time.time() if ts is None else ts, 6)
            h = entry_hash(seq, ts, kind, actor, contract, payload_text, prev)
            entry = AuditEntry(
                seq=seq, ts=ts, kind=kind, actor=actor, contract=contract, payload=json.loads(payload_text),
                prev_hash=prev, hash=h, signature=sign(self.key, h.encode()),
            )
            crash_point("audit.append")
            self.store.audit_insert(entry)
            # The head is signed once per transaction, just before it commits.
            self.store.before_commit(self._sign_head)
        return entry

    def _sign_head(self) -> None:
        head = self.store.audit_head()
        if head is not None:
            seq, h, _ = head
            self.store.set_audit_head(seq, h, sign(self.key, head_message(seq, h)))


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int  # entries checked
    bad_seq: int | None = None  # the first bad entry (its stored seq, or the position when unusable)
    position: int | None = None  # 1-based position of the first bad entry in seq order
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit log OK: {self.count} entries, chain and signatures verified"
        where = f"entry #{self.bad_seq}" if self.bad_seq is not None else "the log"
        return f"audit log TAMPERED at {where}: {self.reason}"


def verify_log(store: Store, public_key: Ed25519PublicKey | str) -> VerifyResult:
    """Check every entry (sequence, chain link, hash, signature) and the signed head."""
    rows = store.audit_raw()
    prev, expected = GENESIS, 1
    for pos, (seq, ts, kind, actor, contract, payload_text, prev_hash, h, sig) in enumerate(rows, start=1):
        def bad(reason: str, seq=seq, pos=pos) -> VerifyResult:
            return VerifyResult(False, pos - 1, seq, pos, reason)

        if seq != expected:
            if isinstance(seq, int) and seq > expected:
                return bad(f"expected entry #{expected} here: entry(ies) deleted before it")
            return bad(f"out of sequence (expected #{expected}): entry inserted or reordered")
        if prev_hash != prev:
            return bad("does not link to the previous entry: an entry before it was deleted, inserted or reordered")
        try:
            recomputed = entry_hash(seq, ts, kind, actor, contract, payload_text, prev_hash)
        except (TypeError, ValueError):
            return bad("unreadable fields: entry modified")
        if recomputed != h:
            return bad("contents do not match its hash: entry modified")
        if not verify(public_key, h.encode(), sig):
            return bad("escrow signature invalid: entry modified or not written by this escrow")
        prev, expected = h, expected + 1
    count = len(rows)
    head = store.audit_head()
    if head is None:
        if count:
            return VerifyResult(False, count, None, None, "the signed head record is missing")
        return VerifyResult(True, 0)
    head_seq, head_hash, head_sig = head
    if not verify(public_key, head_message(head_seq, head_hash), head_sig):
        return VerifyResult(False, count, head_seq, None, "the signed head record is invalid (modified)")
    if head_seq != count or (count and head_hash != prev):
        last = rows[-1][0] if rows else 0
        if head_seq > count:
            return VerifyResult(False, count, last + 1, count + 1, f"log truncated: the head records {head_seq} entries, {count} remain")
        return VerifyResult(False, count, head_seq, None, "the head record does not match the last entry")
    return VerifyResult(True, count)


def format_entry(e: AuditEntry) -> str:
    """One human line per entry (hashes shortened, empty values and signatures left out)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e.ts))
    parts = [f"#{e.seq:<5} {stamp}Z  {e.kind:<15}"]
    if e.actor:
        parts.append(f"by {e.actor}")
    if e.contract:
        parts.append(f"contract {e.contract[:12]}")
    payload = e.payload if isinstance(e.payload, dict) else {}
    details = ", ".join(f"{k}={_short(v)}" for k, v in sorted(payload.items())
                        if k != "signature" and v not in (None, "", [], {}))
    if details:
        parts.append(f"({details})")
    return "  ".join(parts)


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _short(value: Any, limit: int = 80) -> str:
    if _is_hash(value):
        return value[:12]
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "[" + ", ".join(v[:12] if _is_hash(v) else v for v in value) + "]"
    elif isinstance(value, dict):
        text = json.dumps({k: (v[:12] if _is_hash(v) else v) for k, v in value.items()}, sort_keys=True)
    else:
        text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def entries_json(entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    return [
        {"seq": e.seq, "ts": e.ts, "kind": e.kind, "actor": e.actor, "contract": e.contract, "payload": e.payload,
         "prev_hash": e.prev_hash, "hash": e.hash, "signature": e.signature}
        for e in entries
    ]
