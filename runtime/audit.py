"""The audit log: append-only, hash-chained, each entry signed by the escrow key.

Entry hash = sha256(canonical JSON [seq, ts, kind, actor, contract, payload_text, prev_hash]),
where payload_text is the canonical JSON of the payload exactly as stored. The escrow signs
the hash, and signs a head record (last seq + hash; once per transaction, before it commits)
so truncating the tail is detected too. The first entry of a log is a `genesis` entry naming
the escrow's id (`keys.escrow_id`), so an emptied log, or one cut from its start, is detected.
Append inside the transaction of the state change the entry records.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .keys import KeysError, canonical_json, escrow_id, fingerprint, load_public_key, public_pem, sign, verify
from .crashpoints import crash_point
from .store import AuditEntry, Store

GENESIS = "0" * 64  # the prev_hash of the first entry
GENESIS_KIND = "genesis"
GENESIS_SETTING = "audit.genesis"  # "pending" in a new store until the genesis entry is written

# Kinds of entries (free text is accepted; these are the ones the escrow writes).
KINDS = (
    GENESIS_KIND,
    "agent_created",
    "data_add",
    "data_replace",
    "data_remove",
    "proposal",
    "reproposal",
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
    "recovery",
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
        self.escrow_id = escrow_id(public_pem(key))
        self._genesis_done = False
        self.observers: list = []  # called with every entry appended (before its transaction commits)

    def ensure_genesis(self) -> None:
        """Write the genesis entry of a new store (nothing when it has one, or is an older store)."""
        if self.store.get_setting(GENESIS_SETTING) is not None:
            with self.store.transaction():
                self._genesis_if_pending()
        self._genesis_done = True

    def _genesis_if_pending(self) -> None:
        """Inside a transaction: the genesis entry first, if the store was created waiting for it."""
        if self._genesis_done:
            return
        pending = self.store.get_setting(GENESIS_SETTING)
        if pending == "pending" and self.store.audit_head() is None:
            self._insert(GENESIS_KIND, None, None, {"escrow_id": self.escrow_id}, None)
        if pending is not None:
            self.store.set_setting(GENESIS_SETTING, None)

    def append(self, kind: str, *, actor: str | None = None, contract: str | None = None,
               payload: dict[str, Any] | None = None, ts: float | None = None) -> AuditEntry:
        payload = dict(payload or {})
        if self._genesis_done and self.store.in_transaction:
            # inside the caller's transaction: no savepoint of its own (`audit_insert` is one statement)
            return self._insert(kind, actor, contract, payload, ts)
        with self.store.transaction():
            self._genesis_if_pending()
            return self._insert(kind, actor, contract, payload, ts)

    def _insert(self, kind: str, actor: str | None, contract: str | None, payload: dict,
                ts: float | None) -> AuditEntry:
        payload_text = canonical_json(payload).decode()
        head = self.store.audit_head()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        ts = round(time.time() if ts is None else ts, 6)
        h = entry_hash(seq, ts, kind, actor, contract, payload_text, prev)
        entry = AuditEntry(
            seq=seq, ts=ts, kind=kind, actor=actor, contract=contract, payload=json.loads(payload_text),
            prev_hash=prev, hash=h, signature=sign(self.key, h.encode()),
        )
        crash_point("audit.append")
        # The head is signed once per transaction, just before it commits (registered before the
        # insert, so the store writes the head record once, signed: `SQLStore._flush_head`).
        self.store.before_commit(self._sign_head)
        self.store.audit_insert(entry, payload_text=payload_text)
        for observe in self.observers:
            observe(entry)
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


def _public(public_key: Ed25519PublicKey | str) -> Ed25519PublicKey:
    return load_public_key(public_key) if isinstance(public_key, (str, bytes)) else public_key


def entry_valid(entry: AuditEntry, public_key: Ed25519PublicKey | str) -> bool:
    """Whether `entry` (as read back) is an entry this escrow signed, unchanged.

    Checks one entry on its own (hash and signature), not its place in the chain: enough to
    believe what it says, as `verify_log` checks that no entry was removed."""
    try:
        payload_text = canonical_json(entry.payload).decode()
        h = entry_hash(entry.seq, entry.ts, entry.kind, entry.actor, entry.contract, payload_text, entry.prev_hash)
    except (TypeError, ValueError):
        return False
    if h != entry.hash:
        return False
    if isinstance(public_key, str) and isinstance(entry.signature, str):
        return _signed(public_key, h, entry.signature)
    return verify(_public(public_key), h.encode(), entry.signature)


@functools.lru_cache(maxsize=65536)
def _signed(public_key_pem: str, h: str, signature: str) -> bool:
    """Whether `signature` is the escrow's signature of entry hash `h` (a pure function, so each
    entry's signature is verified once per process however often the entry is read back)."""
    try:
        key = _key(public_key_pem)
    except KeysError:
        return False
    return verify(key, h.encode(), signature)


@functools.lru_cache(maxsize=64)
def _key(pem: str) -> Ed25519PublicKey:
    return load_public_key(pem)


def public_key_sha256(pem: str) -> str:
    """What an `agent_created` entry records to bind an agent's registered key in full."""
    return hashlib.sha256(pem.encode()).hexdigest()


#: the store's memo of bound keys: {(escrow public key, agent, registered key): (`audit_mark` of
#: `agent_created`, bound key)}
BOUND_KEYS = "audit.bound_agent_key"
_BOUND_LOCK = threading.Lock()


def bound_agent_key(store: Store, public_key: Ed25519PublicKey | str, agent: str, row=None) -> str | None:
    """The registered public key (PEM) of `agent` if the escrow's signed `agent_created` entry for
    it names that key; None when the agent is unknown or its row no longer matches the log.

    `row` is the agent's row when the caller just read it (in the same transaction). The answer
    is remembered per (store, escrow key, agent, registered key) until an `agent_created` entry
    is written or removed anywhere in the log (their count and last entry, one indexed look-up,
    check that), so a key written into the agents table by hand, a new entry binding another
    key, or a binding deleted is seen at once. (An older entry rewritten in place is seen when
    the memo is next rebuilt, and by `dsc audit verify`; it cannot bind a key: entries are signed.)"""
    if row is None:
        row = store.get_agent(agent)
    if row is None:
        return None
    pem = public_key if isinstance(public_key, str) else public_pem(public_key)
    last = store.audit_mark("agent_created")
    memo_key = (pem, agent, row.public_key)
    memo = store.memo(BOUND_KEYS)
    with _BOUND_LOCK:
        hit = memo.get(memo_key)
    if hit is not None and hit[0] == last:
        return hit[1]
    bound = _bound_key(store, public_key, agent, row)
    with _BOUND_LOCK:
        if len(memo) > 4096:
            memo.clear()
        memo[memo_key] = (last, bound)
    return bound


def _bound_key(store: Store, public_key: Ed25519PublicKey | str, agent: str, row) -> str | None:
    entries = store.audit_find(("agent_created",), field="agent", value=agent)
    if not entries or not entry_valid(entries[-1], public_key):
        return None
    payload = entries[-1].payload
    try:
        ok = payload.get("key") == fingerprint(row.public_key)
    except KeysError:
        return None
    if "public_key_sha256" in payload:
        ok = ok and payload["public_key_sha256"] == public_key_sha256(row.public_key)
    return row.public_key if ok else None


def _genesis_problem(row: tuple, expected_id: str) -> str | None:
    """Why the first stored entry is not this escrow's genesis entry (None when it is)."""
    seq, _, kind, actor, contract, payload_text, prev_hash, _, _ = row
    if kind != GENESIS_KIND:
        if seq == 1 and prev_hash == GENESIS:
            return ("the log does not start with a genesis entry: the escrow was created by a dsc older than "
                    "genesis entries (its history cannot prove it is complete: start a new escrow), or its "
                    "log was replaced from the start")
        return "the log does not start with its genesis entry: entries were removed from its start"
    try:
        payload = json.loads(payload_text)
    except (TypeError, ValueError):
        payload = None
    if not isinstance(payload, dict) or payload.get("escrow_id") != expected_id or actor or contract:
        return "the genesis entry names another escrow"
    return None


def verify_log(store: Store, public_key: Ed25519PublicKey | str) -> VerifyResult:
    """Check the genesis entry, every entry (sequence, chain link, hash, signature) and the signed head."""
    public_key = _public(public_key)
    with store.snapshot():  # the entries and the head as one state: a live escrow commits between two reads
        rows, head = store.audit_raw(), store.audit_head()
    if not rows:
        return VerifyResult(False, 0, None, None, "the log is empty: it has no genesis entry (entries removed)")
    problem = _genesis_problem(rows[0], escrow_id(public_pem(public_key)))
    if problem:
        return VerifyResult(False, 0, rows[0][0], 1, problem)
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
        if kind == GENESIS_KIND and pos > 1:
            return bad("a second genesis entry: the log was restarted")
        prev, expected = h, expected + 1
    count = len(rows)
    if head is None:
        return VerifyResult(False, count, None, None, "the signed head record is missing")
    head_seq, head_hash, head_sig = head
    if not verify(public_key, head_message(head_seq, head_hash), head_sig):
        return VerifyResult(False, count, head_seq, None, "the signed head record is invalid (modified)")
    if head_seq != count or head_hash != prev:
        last = rows[-1][0]
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
