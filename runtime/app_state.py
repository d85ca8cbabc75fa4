"""Small JSON state a contract's function may keep between executions (the seed's store/load).

State is scoped to one contract (its identity), limited in size, validated as plain JSON
(never pickle), buffered during a run and written by the escrow in the same transaction as
the execution's outcome, each write recorded in the audit log.

State is derived from data, so it is treated like data: it is written only when the run
released its result (or kept it), never when nothing was released; under no_trust it is
encrypted at rest with the escrow's data keys (`codec.encrypted`), bound to its scope and key;
and the audit log records its size and the hash of its stored form (which holds a random salt,
or is ciphertext, so that a small value cannot be found from its hash), not its key: a key is
chosen by the function and could spell out data.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets

from .store.base import encodable

KEY_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}\Z")
MAX_VALUE_BYTES = 64 * 1024
MAX_KEYS = 256
STATE_OWNER = "_app_state"  # the data key owner app state is encrypted for (no_trust)
_MISSING = object()


class AppStateError(ValueError):
    """A key or value the escrow will not keep."""


def _check_plain(value, depth: int = 0) -> None:
    if depth > 50:
        raise AppStateError("app state is nested too deeply")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise AppStateError("app state dictionaries must have string keys")
            _check_text(k)
            _check_plain(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_plain(v, depth + 1)
    elif isinstance(value, str):
        _check_text(value)
    elif not (value is None or isinstance(value, (bool, int, float))):
        raise AppStateError("app state must be plain JSON (numbers, strings, lists, dicts)")


def _check_text(text: str) -> None:
    # the store keeps the value as UTF-8 text (a NUL is escaped in JSON; red team session 13: an
    # unpaired surrogate was refused by the store at the commit, and the run was stopped)
    if not encodable(text):
        raise AppStateError("app state text must be Unicode text: an unpaired surrogate is not "
                            "(decode bytes with errors='replace', or keep them as hex)")


def _encode(value) -> str:
    _check_plain(value)
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise AppStateError("app state must be plain JSON (numbers, strings, lists, dicts)") from None
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise AppStateError(f"app state values are limited to {MAX_VALUE_BYTES} bytes")
    return text


class AppState:
    """The state of one contract: reads see the store plus this run's pending writes.

    `codec` is the storage codec: when it encrypts (no_trust), values are stored sealed."""

    def __init__(self, scope: str, store=None, codec=None):
        self.scope = scope
        self.store = store
        self.codec = codec
        self.pending: dict[str, str] = {}  # key -> JSON text written during this run

    # -- the stored form ------------------------------------------------------------
    def _stored(self, key: str, text: str) -> dict:
        if self.codec is not None and getattr(self.codec, "encrypted", False):
            inner = json.dumps({"scope": self.scope, "key": key, "value": text}, separators=(",", ":")).encode()
            return {"sealed": base64.b64encode(self.codec.encode(inner, owner=STATE_OWNER)).decode()}
        return {"salt": secrets.token_hex(16), "value": json.loads(text)}

    def _value(self, key: str, stored):
        if isinstance(stored, dict) and set(stored) == {"sealed"}:
            if self.codec is None or not getattr(self.codec, "encrypted", False):
                raise AppStateError("this app state is encrypted: it needs the escrow's key-encryption key")
            inner = json.loads(self.codec.decode(base64.b64decode(stored["sealed"]), owner=STATE_OWNER))
            if inner.get("scope") != self.scope or inner.get("key") != key:
                raise AppStateError(f"app state {key!r} of {self.scope} was moved from another place")
            return json.loads(inner["value"])
        if isinstance(stored, dict) and set(stored) == {"salt", "value"}:
            return stored["value"]
        return stored  # written before values were wrapped

    # -- the API ----------------------------------------------------------------------
    def load(self, key: str, default=None):
        self._check_key(key)
        if key in self.pending:
            return json.loads(self.pending[key])
        if self.store is None:
            return default
        stored = self.store.get_state(self.scope, key, _MISSING)
        return default if stored is _MISSING else self._value(key, stored)

    def snapshot(self) -> dict:
        """Every value as the function sees it (stored values, then this run's writes)."""
        out = {}
        if self.store is not None and hasattr(self.store, "list_state"):
            out = {k: self._value(k, v) for k, v in self.store.list_state(self.scope).items()}
        out.update({k: json.loads(v) for k, v in self.pending.items()})
        return out

    def store_value(self, key: str, value) -> None:
        self._check_key(key)
        text = _encode(value)
        if key not in self.pending and len(self.pending) >= MAX_KEYS:
            raise AppStateError(f"at most {MAX_KEYS} app state keys per run")
        self.pending[key] = text

    def discard(self) -> None:
        """Forget this run's writes (nothing was released)."""
        self.pending.clear()

    def commit(self, store, audit=None, actor: str | None = None, contract: str | None = None,
               mac=None) -> list[str]:
        """Write the pending values (inside the caller's transaction) and record them in one entry.

        The entry says neither a value, nor a key, nor a size, nor how many keys were written, nor
        a plain hash a small value could be found from: only the scope and a keyed digest (`mac`,
        the escrow's `EscrowContext.mac`) of everything written, which the escrow can check."""
        written, forms = [], hashlib.sha256()
        for key, text in sorted(self.pending.items()):
            stored = self._stored(key, text)
            store.set_state(self.scope, key, stored)
            form = json.dumps([key, stored], sort_keys=True, separators=(",", ":"))
            forms.update(hashlib.sha256(form.encode()).digest())
            written.append(key)
        if audit is not None and written:
            digest = forms.hexdigest()
            audit.append("app_state", actor=actor, contract=contract,
                         payload={"scope": self.scope, "state_mac": mac(digest) if mac else None})
        self.pending.clear()
        return written

    @staticmethod
    def _check_key(key) -> None:
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise AppStateError("invalid app state key: letters, digits, '_', '.', '-' (at most 128)")
