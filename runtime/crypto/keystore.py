"""Per-owner data keys, wrapped by a key-encryption key (KEK).

The KEK comes from a file or an environment variable (config `kek: {file: PATH}`
or `kek: {env: NAME}`) and is never written beside the data. The key store is a
JSON file of wrapped data keys::

    {"version": 1, "kek_id": "<fingerprint>",
     "owners": {"bank1": {"active": "bank1/1", "keys": {"bank1/1": {"wrapped": "<b64>", "created": 1700000000}}}}}

A data key is wrapped with AES-256-GCM under the KEK with the owner and key id as
associated data, so a wrapped key moved to another owner does not unwrap.
Rotating the KEK re-wraps every data key; the encrypted data is not touched.
Owner `@escrow` holds the escrow's own key (derived data).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import binascii
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .stream import CryptoError

ESCROW_OWNER = "@escrow"
KEK_BYTES = 32


@dataclass(frozen=True)
class Kek:
    """A loaded key-encryption key and where it came from (for messages; never the key)."""

    key: bytes
    source: str

    @property
    def kek_id(self) -> str:
        return hashlib.sha256(b"datastation kek id v1" + self.key).hexdigest()[:16]

    def __repr__(self) -> str:  # never show the key
        return f"Kek(source={self.source!r}, id={self.kek_id})"


def parse_kek(text: str | bytes, source: str) -> Kek:
    """Accept 32 raw bytes, 64 hex characters or base64 of 32 bytes."""
    raw = text if isinstance(text, bytes) else text.encode()
    stripped = raw.strip()
    candidates = []
    if len(raw) == KEK_BYTES:
        candidates.append(raw)
    try:
        candidates.append(bytes.fromhex(stripped.decode("ascii")))
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        candidates.append(base64.b64decode(stripped, validate=True))
    except (binascii.Error, ValueError):
        pass
    for c in candidates:
        if len(c) == KEK_BYTES:
            return Kek(c, source)
    raise CryptoError(f"key-encryption key from {source} is not 32 bytes (raw, hex or base64)")


def load_kek(spec) -> Kek:
    """Load the KEK from `{"file": PATH}` or `{"env": NAME}` (a mapping or an object with those attributes)."""
    get = spec.get if isinstance(spec, dict) else (lambda k, d=None: getattr(spec, k, d))
    path, env = get("file"), get("env")
    if path:
        p = Path(path).expanduser()
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise CryptoError(f"cannot read the key-encryption key file {p}: {exc.strerror}") from None
        return parse_kek(data, f"file {p}")
    if env:
        value = os.environ.get(env)
        if not value:
            raise CryptoError(f"environment variable {env} (key-encryption key) is not set")
        return parse_kek(value, f"environment variable {env}")
    raise CryptoError("no key-encryption key configured: set kek.file or kek.env in the config")


def generate_kek_file(path: str | Path) -> Kek:
    """Write a fresh random KEK (base64) to path with mode 0600; refuse to overwrite."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(KEK_BYTES)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(key) + b"\n")
    return Kek(key, f"file {p}")


def _aad(owner: str, key_id: str) -> bytes:
    return f"datastation data key v1|{owner}|{key_id}".encode()


class KeyStore:
    """Wrapped data keys in one JSON file; every change is written atomically."""

    def __init__(self, path: str | Path, kek: Kek):
        self.path = Path(path)
        self.kek = kek
        self._doc = self._load()
        self._cache: dict[str, bytes] = {}

    def _load(self) -> dict:
        if not self.path.exists():
            return {"version": 1, "kek_id": self.kek.kek_id, "owners": {}}
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise CryptoError(f"key store {self.path} is unreadable: {exc}") from None
        if doc.get("kek_id") != self.kek.kek_id:
            raise CryptoError(
                f"wrong key-encryption key: {self.kek.source} (id {self.kek.kek_id}) is not the key "
                f"this key store was wrapped with (id {doc.get('kek_id')})")
        return doc

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keys-")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self._doc, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _wrap(self, owner: str, key_id: str, key: bytes) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + AESGCM(self.kek.key).encrypt(nonce, key, _aad(owner, key_id))).decode()

    def _unwrap(self, owner: str, key_id: str, wrapped: str) -> bytes:
        blob = base64.b64decode(wrapped)
        try:
            return AESGCM(self.kek.key).decrypt(blob[:12], blob[12:], _aad(owner, key_id))
        except InvalidTag:
            raise CryptoError(f"data key {key_id} does not unwrap: wrong key-encryption key or a modified key store") from None

    def owners(self) -> list[str]:
        return sorted(self._doc["owners"])

    def active_key(self, owner: str) -> tuple[str, bytes]:
        """(key id, data key) used to encrypt new data of `owner`; created on first use."""
        entry = self._doc["owners"].get(owner)
        if entry is None:
            return self.new_data_key(owner)
        kid = entry["active"]
        return kid, self.data_key(kid)

    def new_data_key(self, owner: str) -> tuple[str, bytes]:
        """Start a new data key for `owner` (old keys stay for reading old data)."""
        if "/" in owner or not owner:
            raise CryptoError(f"invalid key owner {owner!r}")
        with self._locked():
            return self._new_data_key(owner)

    @contextlib.contextmanager
    def _locked(self):
        """Serialise read-modify-write across processes, then work on the freshest copy."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._doc = self._load()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _new_data_key(self, owner: str) -> tuple[str, bytes]:
        entry = self._doc["owners"].setdefault(owner, {"active": None, "keys": {}})
        kid = f"{owner}/{len(entry['keys']) + 1}"
        key = os.urandom(32)
        entry["keys"][kid] = {"wrapped": self._wrap(owner, kid, key), "created": int(time.time())}
        entry["active"] = kid
        self._save()
        self._cache[kid] = key
        return kid, key

    def data_key(self, key_id: str) -> bytes:
        """The data key with this id (the `key_for` callback of the stream functions)."""
        if key_id in self._cache:
            return self._cache[key_id]
        owner = key_id.rsplit("/", 1)[0]
        entry = self._doc["owners"].get(owner, {}).get("keys", {}).get(key_id)
        if entry is None:
            raise CryptoError(f"no data key {key_id!r} in the key store (data of an unknown owner, or the wrong escrow)")
        key = self._unwrap(owner, key_id, entry["wrapped"])
        self._cache[key_id] = key
        return key

    def rotate_kek(self, new_kek: Kek) -> int:
        """Re-wrap every data key under new_kek; return how many. Data files are not touched."""
        with self._locked():
            return self._rotate(new_kek)

    def _rotate(self, new_kek: Kek) -> int:
        plain = {}
        for owner, entry in self._doc["owners"].items():
            for kid, item in entry["keys"].items():
                plain[(owner, kid)] = self._unwrap(owner, kid, item["wrapped"])
        self.kek = new_kek
        for (owner, kid), key in plain.items():
            self._doc["owners"][owner]["keys"][kid]["wrapped"] = self._wrap(owner, kid, key)
        self._doc["kek_id"] = new_kek.kek_id
        self._save()
        return len(plain)
