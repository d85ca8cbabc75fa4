"""Ed25519 keys and signed requests: the primitives, the escrow's own key, and the envelope.

Agents' private keys are their own: they live in a per-user keyring outside any escrow
(`keyring.py`; files written and read by `keyfile.py`). The escrow holds their public keys, and
its own signing key (`escrow_key.pem`, mode 0600) beside its public half (`escrow.pub`), from
which its id is derived (`escrow_id`).

Every request is an envelope `{action, params, agent, escrow, nonce, timestamp}` serialised as
canonical JSON and signed by the agent; the escrow verifies that it names this escrow, the
signature against the registered key, refuses replayed nonces and timestamps outside its
window. Approvals sign `approval_message(escrow_id, contract_id)`: an approval given at one
escrow is worth nothing at another.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
import nacl.bindings as _sodium
from nacl.exceptions import CryptoError

from .fsutil import fsync_dir
from .keyfile import KeysError, load_private_key_file, private_pem, sweep_temporary_keys, write_secret_file

__all__ = ["KeysError", "AuthError"]  # KeysError lives with the key files; re-exported here

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
ENVELOPE_KEYS = frozenset({"action", "params", "agent", "escrow", "nonce", "timestamp"})


class AuthError(Exception):
    """A signed request was refused. `code` is stable (for tests and the audit log)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ primitives


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8; NaN/inf refused."""
    return _CANONICAL.encode(value).encode()


def storable_text(value: Any) -> bool:
    """Whether every string in `value` (JSON: dicts, lists, strings, numbers) is text a database
    column holds: no NUL character (PostgreSQL refuses one in text) and no unpaired surrogate (no
    UTF-8 encodes one). A registration carrying other text is malformed on every backend alike,
    refused before the store is touched (red team session 13)."""
    from .store import storable

    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if not storable(v):
                return False
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True


def check_name(name: str, what: str = "agent") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise KeysError(f"invalid {what} name {name!r}: use letters, digits and _ (not starting with a digit)")
    return name


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError) as exc:
        raise KeysError(f"not a valid public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeysError("not an Ed25519 public key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Base64 Ed25519 signature of `message` (RFC 8032: deterministic, the same bytes whichever
    library makes it; libsodium makes it, in about two thirds of OpenSSL's time)."""
    return base64.b64encode(_sodium.crypto_sign(message, _sodium_secret(key))[:_SIG_BYTES]).decode()


def verify(public_key: Ed25519PublicKey | str | bytes, message: bytes, signature: str) -> bool:
    """True when `signature` (base64) is a valid signature of `message` by `public_key`.

    Checked by libsodium (`crypto_sign_open`): it verifies in less than half of OpenSSL's time
    (the escrow verifies a signature per request and per approval) and is the stricter of the
    two: it also refuses non-canonical encodings and public keys of small order, for which one
    signature can hold for many messages."""
    try:
        raw_key = _raw_public(public_key) if isinstance(public_key, Ed25519PublicKey) else _parsed_raw_key(public_key)
        raw = base64.b64decode(signature.encode() if isinstance(signature, str) else signature, validate=True)
        if len(raw) != _SIG_BYTES or not isinstance(message, bytes):
            return False
        _sodium.crypto_sign_open(raw + message, raw_key)
        return True
    except (CryptoError, KeysError, ValueError, TypeError, binascii.Error):
        return False


_SIG_BYTES = 64


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@functools.lru_cache(maxsize=4096)
def _parsed_raw_key(pem: str | bytes) -> bytes:
    """The raw 32 bytes of a PEM public key (parsing a PEM costs about as much as verifying)."""
    return _raw_public(load_public_key(pem))


@functools.lru_cache(maxsize=256)
def _sodium_secret_of(seed: bytes) -> bytes:
    # libsodium's 64-byte secret key (seed and public key): deriving it costs a signature's time
    return _sodium.crypto_sign_seed_keypair(seed)[1]


def _sodium_secret(key: Ed25519PrivateKey) -> bytes:
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("sign needs an Ed25519 private key")
    return _sodium_secret_of(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                               serialization.NoEncryption()))


def normalized_public_pem(pem: str | bytes) -> str:
    """The PEM of the one Ed25519 public key in `pem`, re-serialised (nothing else carried over)."""
    text = pem.encode() if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in text:
        raise KeysError("this holds a private key: give the public key only (the agent keeps its private key)")
    key = load_public_key(text)
    if not _sodium.crypto_core_ed25519_is_valid_point(_raw_public(key)):
        # a point of small order (or outside the main subgroup) is no one's key: a signature under
        # it can hold for any message
        raise KeysError("not a usable Ed25519 public key (a weak point, no private key makes it): make one with "
                        "`dsc agent keygen`")
    return public_pem(key)


def approval_message(escrow: str, contract_id: str) -> bytes:
    """What an approval signs: the escrow's id and the contract identity hash, domain-separated."""
    if not isinstance(escrow, str) or not isinstance(contract_id, str) or ":" in escrow:
        raise ValueError("approval_message needs the escrow id and the contract id (strings)")
    return b"datastation-approval:v2:" + escrow.encode() + b":" + contract_id.encode()


def fingerprint(public_key_pem: str) -> str:
    """Short, stable id of a public key (sha256 of the raw key, 16 hex chars)."""
    raw = load_public_key(public_key_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def escrow_id(public_key_pem: str) -> str:
    """The escrow's id: derived from its public signing key, so anyone who holds that key can
    check it, and every signed message can name the escrow it is for."""
    raw = load_public_key(public_key_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "escrow-" + hashlib.sha256(b"datastation-escrow-id:" + raw).hexdigest()[:24]


# ------------------------------------------------------------------ the escrow's own key


def load_or_create_escrow_key(path: Path) -> Ed25519PrivateKey:
    """The escrow's signing key, created with mode 0600 on first use; refused when other users
    may read it (only the escrow's own process reads it)."""
    path = Path(path)
    sweep_temporary_keys(path.parent)
    if not path.exists():
        try:
            write_secret_file(path, private_pem(generate_key()))
        except KeysError:
            pass  # created concurrently by another process: load theirs
    return load_private_key_file(path, None, what="escrow key")


def digest_key(escrow_key: Ed25519PrivateKey) -> bytes:
    """The escrow's secret for keyed digests (`keyed_digest`), derived from its signing key: held
    exactly like that key (mode 0600, the escrow's process only), never written anywhere else."""
    raw = escrow_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    return hmac.new(raw, b"datastation-digest-key:v1", hashlib.sha256).digest()


def keyed_digest(key: bytes, sha256_hex: str, about: str | None = None) -> str:
    """A commitment to contents whose plaintext sha256 is `sha256_hex`, keyed with the escrow's
    secret: whoever lacks the key cannot test a guess of the contents against it (a small result
    or data file is not brute-forced from the audit log), and the escrow can check it. `about`
    names what the contents are (a data key, a release): equal contents under another name give
    another digest, so a party cannot store its guesses as its own data and compare digests.
    Without it, the form of entries written before names were bound."""
    if about is None:
        return hmac.new(key, b"datastation-content:v1:" + sha256_hex.encode(), hashlib.sha256).hexdigest()
    return hmac.new(key, b"datastation-content:v2:" + about.encode() + b"\0" + sha256_hex.encode(),
                    hashlib.sha256).hexdigest()


def publish_public_key(path: Path, pem: str) -> None:
    """Write `pem` to `path` (world-readable, atomically) unless it already holds exactly that."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == pem:
            return
    except (OSError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(prefix=".tmp-pub-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    fsync_dir(path.parent)


# ------------------------------------------------------------------ signed requests


@dataclass(frozen=True)
class SignedRequest:
    envelope: dict[str, Any]  # {action, params, agent, escrow, nonce, timestamp}
    signature: str

    @property
    def agent(self) -> str:
        return str(self.envelope.get("agent"))

    @property
    def action(self) -> str:
        return str(self.envelope.get("action"))

    @property
    def escrow(self) -> str | None:
        e = self.envelope.get("escrow")
        return e if isinstance(e, str) else None

    @property
    def params(self) -> dict[str, Any]:
        p = self.envelope.get("params")
        return p if isinstance(p, dict) else {}

    def to_json(self) -> str:
        return json.dumps({"envelope": self.envelope, "signature": self.signature}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "SignedRequest":
        try:
            obj = json.loads(text)
            env, sig = obj["envelope"], obj["signature"]
        except (ValueError, KeyError, TypeError):
            raise AuthError("malformed", "malformed signed request") from None
        if not isinstance(env, dict) or not isinstance(sig, str):
            raise AuthError("malformed", "malformed signed request")
        return cls(env, sig)


def make_request(
    agent: str, key: Ed25519PrivateKey, action: str, params: dict[str, Any] | None = None,
    *, escrow: str, now: float | None = None, nonce: str | None = None,
) -> SignedRequest:
    """A request signed by `agent` for the escrow whose id is `escrow` (see `escrow_id`)."""
    if not isinstance(escrow, str) or not escrow:
        raise KeysError("a signed request names the escrow it is for (its id)")
    envelope = {
        "action": action,
        "params": params or {},
        "agent": agent,
        "escrow": escrow,
        "nonce": nonce or secrets.token_hex(16),
        "timestamp": time.time() if now is None else now,
    }
    return SignedRequest(envelope, sign(key, canonical_json(envelope)))


PRUNE_SECONDS = 10.0


def finite_timestamp(ts: Any) -> float | None:
    """`ts` as a float if it is a number a float holds (not a bool, not inf or NaN), else None."""
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return None
    try:
        value = float(ts)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None
NOT_STORABLE = ("malformed signed request (a NUL character or an unpaired surrogate in its agent, nonce or "
                "text: no escrow stores either)")


def verify_request(store, request: SignedRequest, *, escrow: str, action: str | None = None,
                   window_seconds: float = 300.0, now: float | None = None):
    """Escrow side: check a signed request for the escrow `escrow` (its id) and record its nonce;
    returns the agent's AgentRow.

    Call inside the transaction of the action it authorises, so the nonce is spent only when
    the action commits. Raises `AuthError` (codes: malformed, wrong_action, wrong_escrow,
    unknown_agent, bad_signature, stale, replay).
    """
    from .store import ReplayError, storable

    env = request.envelope
    if not isinstance(env, dict):
        raise AuthError("malformed", "malformed signed request")
    if "escrow" not in env:
        raise AuthError("wrong_escrow", "the request names no escrow: a signed request must carry the id of the "
                                        "escrow it is for")
    if set(env) != ENVELOPE_KEYS or not isinstance(env.get("params"), dict):
        raise AuthError("malformed", "malformed signed request (envelope must have action, params, agent, escrow, "
                                     "nonce, timestamp)")
    agent, nonce, ts = env["agent"], env["nonce"], env["timestamp"]
    if not isinstance(agent, str) or not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        raise AuthError("malformed", "malformed signed request (agent or nonce)")
    if not (storable(agent) and storable(nonce)):  # before the store reads the agent and spends the nonce
        raise AuthError("malformed", NOT_STORABLE)
    if finite_timestamp(ts) is None:  # before any use: 10**400 is an int no float holds (red team F1)
        raise AuthError("malformed", "malformed signed request (timestamp)")
    if action is not None and env["action"] != action:
        raise AuthError("wrong_action", f"request was signed for action {str(env['action'])[:64]!r}, not {action!r}")
    if env["escrow"] != escrow:
        raise AuthError("wrong_escrow", f"request was signed for escrow {str(env['escrow'])[:64]!r}, not for this "
                                        f"one ({escrow})")
    try:
        message = canonical_json(env)
    except (TypeError, ValueError, RecursionError):  # not JSON, or nested past what JSON tools handle
        raise AuthError("malformed", "malformed signed request (params are not canonical JSON)") from None
    now = time.time() if now is None else now
    if abs(now - float(ts)) > window_seconds:
        raise AuthError("stale", f"request timestamp is outside the accepted window of {window_seconds:g} s")
    # The nonce is spent before the key is read, so PostgreSQL sends both in one round trip (with
    # the transaction's BEGIN): a request refused below rolls the transaction, and its nonce, back.
    try:
        store.use_nonce(agent, nonce, float(ts))
        row = store.get_agent(agent)
    except ReplayError:
        raise AuthError("replay", f"request nonce already used by {agent}: replayed request refused") from None
    if row is None:
        raise AuthError("unknown_agent", f"unknown agent {agent[:64]!r}: not registered with this escrow")
    if not verify(row.public_key, message, request.signature):
        raise AuthError("bad_signature", f"signature does not match the registered key of {agent}")
    store.prune_nonces_now_and_then(now - window_seconds - 60, now=now, every=PRUNE_SECONDS)
    return row
