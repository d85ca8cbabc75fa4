"""Small JSON state a contract's function may keep between executions (the seed's store/load).

State is scoped to one contract (its identity), limited in size, validated as plain JSON
(never pickle), buffered during a run and written by the escrow in the same transaction as
the execution's outcome, each write recorded in the audit log.
"""

from __future__ import annotations

import hashlib
import json
import re

KEY_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}\Z")
MAX_VALUE_BYTES = 64 * 1024
MAX_KEYS = 256


class AppStateError(ValueError):
    """A key or value the escrow will not keep."""


def _check_plain(value, depth: int = 0) -> None:
    if depth > 50:
        raise AppStateError("app state is nested too deeply")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise AppStateError("app state dictionaries must have string keys")
            _check_plain(v, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _check_plain(v, depth + 1)
    elif not (value is None or isinstance(value, (bool, int, float, str))):
        raise AppStateError(f"app state must be plain JSON, not {type(value).__name__}")


def _encode(value) -> str:
    _check_plain(value)
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AppStateError(f"app state must be plain JSON (numbers, strings, lists, dicts): {exc}") from None
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise AppStateError(f"app state values are limited to {MAX_VALUE_BYTES} bytes")
    return text


class AppState:
    """The state of one contract: reads see the store plus this run's pending writes."""

    def __init__(self, scope: str, store=None):
        self.scope = scope
        self.store = store
        self.pending: dict[str, str] = {}  # key -> JSON text written during this run

    def load(self, key: str, default=None):
        self._check_key(key)
        if key in self.pending:
            return json.loads(self.pending[key])
        if self.store is None:
            return default
        return self.store.get_state(self.scope, key, default)

    def store_value(self, key: str, value) -> None:
        self._check_key(key)
        text = _encode(value)
        if key not in self.pending and len(self.pending) >= MAX_KEYS:
            raise AppStateError(f"at most {MAX_KEYS} app state keys per run")
        self.pending[key] = text

    def commit(self, store, audit=None, actor: str | None = None, contract: str | None = None) -> list[str]:
        """Write the pending values (inside the caller's transaction) and record each one."""
        written = []
        for key, text in sorted(self.pending.items()):
            store.set_state(self.scope, key, json.loads(text))
            if audit is not None:
                # the value's hash, not the value: state may be derived from data (no data in logs)
                audit.append("app_state", actor=actor, contract=contract,
                             payload={"scope": self.scope, "key": key, "bytes": len(text),
                                      "value_sha256": hashlib.sha256(text.encode()).hexdigest()})
            written.append(key)
        self.pending.clear()
        return written

    @staticmethod
    def _check_key(key) -> None:
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise AppStateError(f"invalid app state key {key!r}: letters, digits, '_', '.', '-' (at most 128)")
