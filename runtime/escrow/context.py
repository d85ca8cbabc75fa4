"""What every escrow service works with: the open escrow (`EscrowContext`), its refusals, and
the one wrapper every signed action runs through (`signed_action`).

    ctx = open_escrow(config)      # escrow key, store, storage (with its codec), audit log
    signed_action(ctx, request, "contract.approve", body, contract=cid)
    ctx.close()

A signed action verifies the request (signature, nonce, timestamp window) inside the one
transaction in which `body(agent)` changes the state; any `EscrowRefusal` rolls that
transaction back and leaves a `refusal` audit entry (and nothing else).

A request that does not authenticate (`Unauthenticated`: malformed, for another escrow or
action, an unknown agent, a signature that does not verify against the key the log binds, a
stale timestamp or a replayed nonce) is refused *without* an audit entry: anyone who can reach
the escrow could otherwise grow its signed log without limit. Those refusals are counted in
memory (`EscrowContext.unauthenticated`) and reported on stderr at most once per
`NOTICE_SECONDS`, with counts per code and nothing of the requests.
"""

from __future__ import annotations

import collections
import functools
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..audit import AuditLog, bound_agent_key
from ..keys import (
    AuthError,
    SignedRequest,
    digest_key,
    escrow_id,
    keyed_digest,
    load_or_create_escrow_key,
    public_pem,
    publish_public_key,
    verify_request,
)
from ..storage import Storage, codec_for
from ..store import Store, StoreError, UnstorableText, open_store, store_exists
from .decisions import DecisionIndex

T = TypeVar("T")


class EscrowRefusal(Exception):
    """The escrow refused a request; `code` is stable, the message is fit for a user."""

    def __init__(self, code: str, message: str, *, contract: str | None = None):
        super().__init__(message)
        self.code = code
        self.contract = contract  # the contract id a batch's refused item named (kept in the audit entry)


class Unauthenticated(EscrowRefusal):
    """A refusal of a request that no registered agent's key verifiably signed: not audited."""


NOTICE_SECONDS = 60.0


class RefusalCounter:
    """Unauthenticated refusals counted in memory; one stderr line per `NOTICE_SECONDS` at most."""

    def __init__(self, stream=None):
        self.total: collections.Counter = collections.Counter()
        self._since: collections.Counter = collections.Counter()
        self._last = 0.0
        self._lock = threading.Lock()
        self.stream = stream

    def count(self, code: str) -> None:
        with self._lock:
            self.total[code] += 1
            self._since[code] += 1
            now = time.monotonic()
            if now - self._last < NOTICE_SECONDS:
                return
            self._last, since = now, self._since
            self._since = collections.Counter()
        codes = ", ".join(f"{c} {n}" for c, n in sorted(since.items()))
        print(f"dsc escrow: {sum(since.values())} unauthenticated request(s) refused, not audited ({codes})",
              file=self.stream or sys.stderr, flush=True)


@dataclass
class EscrowContext:
    config: Any
    store: Store
    storage: Storage
    audit: AuditLog
    escrow_key: Ed25519PrivateKey
    decisions: DecisionIndex = field(default_factory=DecisionIndex)  # see decisions.py
    unauthenticated: RefusalCounter = field(default_factory=RefusalCounter)

    def __post_init__(self):
        self.audit.observers.append(self.decisions.observe)

    @functools.cached_property
    def escrow_public_pem(self) -> str:
        return public_pem(self.escrow_key)

    @functools.cached_property
    def escrow_id(self) -> str:
        """The id every signed message for this escrow names (`keys.escrow_id`)."""
        return escrow_id(self.escrow_public_pem)

    @functools.cached_property
    def _digest_key(self) -> bytes:
        return digest_key(self.escrow_key)

    def mac(self, sha256_hex: str | None, *, about: str) -> str | None:
        """What the audit log, status and reads record of contents (data, a result, a sealed copy)
        whose plaintext sha256 is `sha256_hex`: a keyed digest bound to `about` (what the contents
        are: `data_about(key)`, `release_about(contract, recipient)`; `keys.keyed_digest`), never
        the plain sha256 a party could test guesses of a small result or file against."""
        return None if sha256_hex is None else keyed_digest(self._digest_key, sha256_hex, about)

    def mac_matches(self, payload: dict, name: str, sha256_hex: str | None, *, about: str) -> bool:
        """Whether an audit payload records contents `sha256_hex` as `<name>_mac` (entries written
        before digests were bound to a name: unbound; before keyed digests: the plain `<name>_hash`)."""
        return self.mac_equal(payload.get(f"{name}_mac"), sha256_hex, about=about) if f"{name}_mac" in payload \
            else payload.get(f"{name}_hash") == sha256_hex

    def mac_equal(self, recorded, sha256_hex: str | None, *, about: str) -> bool:
        """Whether `recorded` is this escrow's digest of `sha256_hex` about `about` (or the unbound
        digest of entries written before digests were bound to a name)."""
        if sha256_hex is None or not isinstance(recorded, str):
            return recorded is None and sha256_hex is None
        return recorded in (self.mac(sha256_hex, about=about), keyed_digest(self._digest_key, sha256_hex))

    def verify(self, request: SignedRequest, action: str):
        """Verify a signed request (inside the caller's transaction); returns the AgentRow.

        The key it is checked against must be the one the agent's signed `agent_created` entry
        names: a key written into the agents table by hand signs nothing (`bound_agent_key`
        remembers the binding while no `agent_created` entry was written or removed since)."""
        row = verify_request(self.store, request, escrow=self.escrow_id, action=action,
                             window_seconds=self.config.request_window_seconds)
        if bound_agent_key(self.store, self.escrow_public_pem, row.name, row) != row.public_key:
            raise AuthError("unbound_key", f"the registered key of {row.name} is not the one this escrow's log "
                                           f"records for it (the agents table was edited): request refused")
        return row

    def refuse(self, code: str, message: str, *, actor: str | None, action: str,
               contract: str | None = None, **payload: Any) -> EscrowRefusal:
        """Record a refusal in the audit log (its own transaction) and return the exception to raise.
        `contract`, the reference the request sent, is kept in the payload: the entry is its
        actor's, not one of the contract's history (`dsc log --contract` lists it there). What the
        request sent is recorded at most `MAX_LOGGED_TEXT` characters a value: a refused request
        must not grow the log (or the answer) by what it carried."""
        message = bounded_for_log(message)
        if contract is not None:
            # A refusal changed nothing of the contract: it is an entry about its actor (who reads
            # it), never one of the contract's history, which every party reads and which anyone
            # could otherwise fill with refused requests for free (an outsider: H39; a party: H43).
            # The reference the request sent stays in the payload.
            payload.setdefault("contract", contract)
        self.audit.append("refusal", actor=actor, contract=None,
                          payload={"action": action, "code": code, "reason": message,
                                   **{k: bounded_for_log(v) for k, v in payload.items()}})
        return EscrowRefusal(code, message)

    def refuse_unauthenticated(self, exc: EscrowRefusal) -> EscrowRefusal:
        """Count a refusal of an unauthenticated request (no audit entry); return it to raise."""
        self.unauthenticated.count(exc.code)
        return Unauthenticated(exc.code, str(exc))

    def close(self) -> None:
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


MAX_LOGGED_TEXT = 1000


def bounded_for_log(value: Any) -> Any:
    """`value`, or when its text (JSON for what is not a string) is longer than `MAX_LOGGED_TEXT`,
    its first characters and its length (red team session 10: a 4 MB key refused was logged twice)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= MAX_LOGGED_TEXT:
        return value
    return f"{text[:MAX_LOGGED_TEXT]}… ({len(text):,} characters)"


def data_about(key: str) -> str:
    """What a data element's (or kept result's) contents are, for `EscrowContext.mac`."""
    return f"data {key}"


def release_about(contract_id: str, recipient: str) -> str:
    """What a released result's contents are, for `EscrowContext.mac`."""
    return f"release {contract_id} {recipient}"


def open_escrow(config, *, create: bool = True) -> EscrowContext:
    """Open the escrow of `config`, creating its directories, key and database on first use
    (with create=False a missing escrow is an error: for read-only commands)."""
    if not create and not store_exists(config):
        raise StoreError(f"no escrow at {config.escrow_dir} (it is created by the first `dsc agent create`; "
                         "or pass --config)")
    try:
        config.escrow_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config.storage_path.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = open_store(config)
        try:
            if not config.escrow_key_path.exists() and store.audit_head() is not None:
                raise StoreError(_no_key_for_a_used_store(config))
            key = load_or_create_escrow_key(config.escrow_key_path)
            _publish(config.escrow_pub_path, public_pem(key))
        except BaseException:
            store.close()
            raise
    except OSError as exc:
        raise StoreError(f"cannot open the escrow in {config.escrow_dir}: {exc.strerror or exc}"
                         + (f" ({exc.filename})" if exc.filename else "")) from None
    ctx = EscrowContext(config, store, escrow_storage(config), AuditLog(store, key), key)
    try:
        ctx.audit.ensure_genesis()
        from .recovery import recover  # recovery builds on the services that build on this module

        recover(ctx)
    except BaseException:
        store.close()
        raise
    return ctx


def _no_key_for_a_used_store(config) -> str:
    """Why a store whose log has entries gets no new escrow key: it belongs to the escrow whose key
    signed them (another directory named for a shared PostgreSQL store, or a deleted key), and a
    new key would sign entries into its chain that no verification accepts."""
    if config.store.backend == "postgresql":
        from ..store.pg import redact

        where = redact(config.store.url or "")
    else:
        where = str(config.store.path)
    return (f"the escrow database {where} already holds an escrow's log, but its key is not in "
            f"{config.escrow_dir} ({config.escrow_key_path.name} missing): use that escrow's directory (or copy "
            f"its key there); no new escrow key was made")


def escrow_storage(config) -> Storage:
    """The content storage of the escrow of `config` (its writers' lock and intents under run/)."""
    return Storage(config.storage_path, lambda: codec_for(config), state_dir=Path(config.escrow_dir) / "run")


def _publish(path: Path, pem: str) -> None:
    """`escrow.pub`, from which anyone can check the escrow's id (a copy: the escrow itself always
    derives its id from its key, so a read-only escrow directory only leaves the copy stale)."""
    try:
        publish_public_key(path, pem)
    except OSError:
        pass


def authenticate(ctx: EscrowContext, request: SignedRequest, action: str) -> str:
    """The name of the agent that signed `request` for `action` (refusal if the signature fails)."""
    return authenticated_row(ctx, request, action).name


def authenticated_row(ctx: EscrowContext, request: SignedRequest, action: str):
    """The row (name, registered key) of the agent that signed `request` for `action`."""
    try:
        return ctx.verify(request, action)
    except AuthError as exc:
        raise Unauthenticated(exc.code, str(exc)) from None


class _DryRun(Exception):
    pass


def preverify(ctx: EscrowContext, request: SignedRequest, action: str) -> str:
    """Check `request` as `signed_action` will (escrow, signature, window, unused nonce) without
    spending its nonce: a server calls it before it accepts a large body. Refusals are audited."""
    claimed = getattr(request, "agent", None)
    try:
        with ctx.store.transaction():
            agent = authenticate(ctx, request, action)
            raise _DryRun(agent)  # rolls the transaction (and the nonce) back
    except _DryRun as done:
        return str(done.args[0])
    except Unauthenticated as exc:
        raise ctx.refuse_unauthenticated(exc) from None
    except EscrowRefusal as exc:
        raise ctx.refuse(exc.code, str(exc), actor=claimed, action=action) from None


def signed_action(ctx: EscrowContext, request: SignedRequest, action: str, body: Callable[[str], T], *,
                  contract: str | None = None, **refusal_payload: Any) -> T:
    """Run `body(agent)` in one transaction after verifying `request`; on a refusal, roll back,
    audit the refusal (with `refusal_payload`) and raise it."""
    return signed_action_of(ctx, request, action, lambda row: body(row.name), contract=contract, **refusal_payload)


def signed_action_of(ctx: EscrowContext, request: SignedRequest, action: str, body: Callable[[Any], T], *,
                     contract: str | None = None, **refusal_payload: Any) -> T:
    """`signed_action`, `body` given the signer's agents row (its key the one the request was
    verified with) rather than its name."""
    claimed = getattr(request, "agent", None)
    try:
        with ctx.store.transaction():
            signer = authenticated_row(ctx, request, action)
            try:
                return body(signer)
            except UnstorableText as exc:  # a parameter no escrow stores, on either backend alike
                raise EscrowRefusal("bad_request", f"the request (its parameters or the content it sent) holds "
                                                   f"{exc}") from None
    except Unauthenticated as exc:
        raise ctx.refuse_unauthenticated(exc) from None
    except EscrowRefusal as exc:
        raise ctx.refuse(exc.code, str(exc), actor=claimed, action=action,
                         contract=contract if contract is not None else exc.contract, **refusal_payload) from None
