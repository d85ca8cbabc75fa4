"""Ed25519 keys: agent key pairs in a keyring, the escrow's own key, and signed requests.

Agent private keys are PEM files `<keyring>/<agent>.pem` (mode 0600, optionally encrypted
with a passphrase); the public key is registered with the escrow. Every lifecycle request is
an envelope `{action, params, agent, nonce, timestamp}` serialised as canonical JSON and
signed by the agent; the escrow verifies it against the registered key, refuses replayed
nonces and timestamps outside its window. Approvals sign `approval_message(contract_id)`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .fsutil import fsync_dir
from .crashpoints import crash_point

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


class KeysError(Exception):
    """A key could not be created, read or used; the message is fit for a user."""


class AuthError(Exception):
    """A signed request was refused. `code` is stable (for tests and the audit log)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------ primitives


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no spaces, UTF-8; NaN/inf refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


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
    """Base64 Ed25519 signature of `message`."""
    return base64.b64encode(key.sign(message)).decode()


def verify(public_key: Ed25519PublicKey | str | bytes, message: bytes, signature: str) -> bool:
    """True when `signature` (base64) is a valid signature of `message` by `public_key`."""
    try:
        pub = public_key if isinstance(public_key, Ed25519PublicKey) else load_public_key(public_key)
        raw = base64.b64decode(signature.encode() if isinstance(signature, str) else signature, validate=True)
        pub.verify(raw, message)
        return True
    except (InvalidSignature, KeysError, ValueError, TypeError, binascii.Error):
        return False


def approval_message(contract_id: str) -> bytes:
    """What an approval signs: the contract identity hash, domain-separated."""
    return b"datastation-approval:" + contract_id.encode()


def fingerprint(public_key_pem: str) -> str:
    """Short, stable id of a public key (sha256 of the raw key, 16 hex chars)."""
    import hashlib

    raw = load_public_key(public_key_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def escrow_id(public_key_pem: str) -> str:
    """The escrow's id: derived from its public signing key, so anyone who holds that key can
    check it, and every signed message can name the escrow it is for."""
    import hashlib

    raw = load_public_key(public_key_pem).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "escrow-" + hashlib.sha256(b"datastation-escrow-id:" + raw).hexdigest()[:24]


# ------------------------------------------------------------------ key files


def write_secret_file(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 atomically; refuse to overwrite an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)  # mkstemp creates with 0600
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        crash_point("keys.written")
        os.link(tmp, path)  # fails if `path` exists: no silent overwrite of a key
        crash_point("keys.linked")
    except FileExistsError:
        raise KeysError(f"key file {path} already exists") from None
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)
    fsync_dir(path.parent)


def private_pem(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def load_private_key_file(path: Path, passphrase: bytes | None = None, *, what: str = "key") -> Ed25519PrivateKey:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeysError(f"no {what} at {path}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeysError(f"{what} file {path} is accessible by other users (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}")
    data = path.read_bytes()
    encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
    if encrypted and not passphrase:
        raise KeysError(f"{what} {path} is protected by a passphrase; provide it (see --passphrase-env)")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError):
        if encrypted:
            raise KeysError(f"wrong passphrase for {what} {path}") from None
        raise KeysError(f"{what} file {path} is not a valid PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeysError(f"{what} file {path} is not an Ed25519 key")
    return key


def agent_key_path(keyring: Path, agent: str) -> Path:
    return Path(keyring) / f"{check_name(agent)}.pem"


def create_agent_key(keyring: Path, agent: str, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Generate a key pair and store the private key as `<keyring>/<agent>.pem` (0600)."""
    key = generate_key()
    write_secret_file(agent_key_path(keyring, agent), private_pem(key, passphrase))
    return key


def passphrase_from_env(var: str | None, agent: str | None = None) -> bytes | None:
    """The passphrase in env `var`; else DSC_PASSPHRASE_<AGENT> or DSC_PASSPHRASE when set."""
    if var:
        value = os.environ.get(var)
        if value is None:
            raise KeysError(f"environment variable {var} (the key passphrase) is not set")
        if not value:
            raise KeysError(f"environment variable {var} (the key passphrase) is empty")
        return value.encode()
    for name in ([f"DSC_PASSPHRASE_{agent.upper()}"] if agent else []) + ["DSC_PASSPHRASE"]:
        if os.environ.get(name):
            return os.environ[name].encode()
    return None


def load_agent_key(keyring: Path, agent: str, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    path = agent_key_path(keyring, agent)
    if not path.exists():
        raise KeysError(f"no private key for agent {agent!r} in {keyring} (create one with: dsc agent create {agent})")
    return load_private_key_file(path, passphrase or passphrase_from_env(None, agent), what=f"private key of {agent}")


def load_or_create_escrow_key(path: Path) -> Ed25519PrivateKey:
    """The escrow's signing key (audit entries), created with mode 0600 on first use."""
    path = Path(path)
    if not path.exists():
        try:
            write_secret_file(path, private_pem(generate_key()))
        except KeysError:
            pass  # created concurrently by another process: load theirs
    return load_private_key_file(path, None, what="escrow key")


# ------------------------------------------------------------------ signed requests


@dataclass(frozen=True)
class SignedRequest:
    envelope: dict[str, Any]  # {action, params, agent, nonce, timestamp}
    signature: str

    @property
    def agent(self) -> str:
        return str(self.envelope.get("agent"))

    @property
    def action(self) -> str:
        return str(self.envelope.get("action"))

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
    *, now: float | None = None, nonce: str | None = None,
) -> SignedRequest:
    envelope = {
        "action": action,
        "params": params or {},
        "agent": agent,
        "nonce": nonce or secrets.token_hex(16),
        "timestamp": time.time() if now is None else now,
    }
    return SignedRequest(envelope, sign(key, canonical_json(envelope)))


def sign_request_as(config, agent: str, action: str, params: dict[str, Any] | None = None,
                    *, passphrase_env: str | None = None) -> SignedRequest:
    """CLI side: sign a request with `agent`'s key from the configured keyring."""
    key = load_agent_key(config.keyring_path, agent, passphrase_from_env(passphrase_env, agent))
    return make_request(agent, key, action, params)


def verify_request(store, request: SignedRequest, *, action: str | None = None,
                   window_seconds: float = 300.0, now: float | None = None):
    """Escrow side: check a signed request and record its nonce; returns the agent's AgentRow.

    Call inside the transaction of the action it authorises, so the nonce is spent only when
    the action commits. Raises `AuthError` (codes: malformed, wrong_action, unknown_agent,
    bad_signature, stale, replay).
    """
    from .store import ReplayError

    env = request.envelope
    keys_ = {"action", "params", "agent", "nonce", "timestamp"}
    if set(env) != keys_ or not isinstance(env.get("params"), dict):
        raise AuthError("malformed", "malformed signed request (envelope must have action, params, agent, nonce, timestamp)")
    agent, nonce, ts = env["agent"], env["nonce"], env["timestamp"]
    if not isinstance(agent, str) or not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        raise AuthError("malformed", "malformed signed request (agent or nonce)")
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise AuthError("malformed", "malformed signed request (timestamp)")
    if action is not None and env["action"] != action:
        raise AuthError("wrong_action", f"request was signed for action {env['action']!r}, not {action!r}")
    row = store.get_agent(agent)
    if row is None:
        raise AuthError("unknown_agent", f"unknown agent {agent!r}: not registered with this escrow")
    try:
        message = canonical_json(env)
    except (TypeError, ValueError):
        raise AuthError("malformed", "malformed signed request (params are not canonical JSON)") from None
    if not verify(row.public_key, message, request.signature):
        raise AuthError("bad_signature", f"signature does not match the registered key of {agent}")
    now = time.time() if now is None else now
    if abs(now - float(ts)) > window_seconds:
        raise AuthError("stale", f"request timestamp is outside the accepted window of {window_seconds:g} s")
    try:
        store.use_nonce(agent, nonce, float(ts))
        # Nonces older than the window can never be replayed successfully: forget them.
        store.prune_nonces(now - window_seconds - 60)
    except ReplayError:
        raise AuthError("replay", f"request nonce already used by {agent}: replayed request refused") from None
    return row
