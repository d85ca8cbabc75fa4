"""Row types and the abstract `Store` interface every backend implements."""

from __future__ import annotations

import abc
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from datastation.contracts.status import MAY_RUN, ContractStatus

# Contract statuses that still may run (or run now): a data element they use cannot be removed or replaced.
OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in sorted(MAY_RUN))


class StoreError(Exception):
    """A store operation failed; the message is fit for a user."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """A row already exists or a constraint (foreign key, uniqueness) was violated."""


class ReplayError(StoreError):
    """A request nonce was used before."""


class Busy(StoreError):
    """The write lock is held by another transaction (of this process or another) and the caller
    asked not to wait long for it (`Store.without_waiting`): nothing was done."""


class StoreFull(StoreError):
    """The file system holding the store has no room left (SQLite reports it as a disk I/O error):
    the operator must free space. Its name is what the server logs."""


class UnstorableText(StoreError):
    """A value to write or look up is text no escrow stores: a NUL character (PostgreSQL refuses
    one in text) or an unpaired surrogate (no UTF-8 encodes one). Both backends refuse it alike,
    before the database sees it (red team session 13: PostgreSQL failed, SQLite stored the NUL)."""

    def __init__(self):
        super().__init__("text with a NUL character or an unpaired surrogate: no escrow stores it")


def encodable(text: str) -> bool:
    """Whether `text` has a UTF-8 form (no unpaired surrogate, as decoding bytes with
    errors="surrogateescape" leaves)."""
    if text.isascii():
        return True
    try:
        text.encode()
        return True
    except UnicodeEncodeError:
        return False


def storable(text: str) -> bool:
    """Whether `text` is text every backend stores as it is (see `UnstorableText`)."""
    return "\x00" not in text and encodable(text)


def check_storable(params) -> None:
    """Raise `UnstorableText` if a string among `params` (a statement's parameters) is not storable."""
    for p in params:  # the common case, ASCII without a NUL, without a call (this runs for every statement)
        if isinstance(p, str) and ("\x00" in p or not p.isascii()) and not storable(p):
            raise UnstorableText()


def storable_rows(rows) -> list:
    """`rows` (the parameters of an `executemany`) as a list, each row checked by `check_storable`."""
    rows = list(rows)
    for row in rows:
        check_storable(row)
    return rows


@dataclass(frozen=True, kw_only=True)
class AgentRow:
    name: str
    public_key: str  # PEM (SubjectPublicKeyInfo) of the agent's Ed25519 key
    display: str = ""
    created: float = 0.0


@dataclass(frozen=True, kw_only=True)
class DataRow:
    key: str  # "owner.name" (or a kept result's name for derived data)
    owner: str
    format: str  # csv | parquet | json (or a result kind for derived data)
    content_hash: str  # sha256 hex of the plaintext contents
    size: int = 0
    inferred_schema: dict[str, str] | None = None
    declared_schema: dict[str, str] | None = None
    derived: bool = False
    provenance: tuple[str, ...] = ()  # original DE keys a derived DE was computed from
    created: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ContractRow:
    id: str  # identity hash
    name: str
    canonical: str  # canonical JSON of the contract
    source: str = ""  # .dsc source text it was proposed from
    function_hashes: dict[str, str] = field(default_factory=dict)
    proposer: str
    status: str = ContractStatus.PENDING
    inputs: tuple[str, ...] = ()  # data keys / kept names the computation uses
    recipients: tuple[str, ...] = ()
    source_agents: tuple[str, ...] = ()  # owners of the original inputs (must all approve)
    meta: dict[str, Any] = field(default_factory=dict)  # free JSON for the lifecycle layer
    created: float = 0.0
    updated: float = 0.0

    @property
    def parties(self) -> list[str]:
        """Everyone party to the contract: who may read it (`party_names`)."""
        return party_names(self.proposer, self.source_agents, self.recipients)


def party_names(proposer: Any, source_agents: Any, recipients: Any) -> list[str]:
    """The proposer, the source agents and the recipients of a contract, each once, sorted (names
    that are not strings, in a row edited by hand, are no one's)."""
    names = [proposer, *(source_agents if isinstance(source_agents, (list, tuple)) else ()),
             *(recipients if isinstance(recipients, (list, tuple)) else ())]
    return sorted({n for n in names if isinstance(n, str)})


#: the largest sequence number of the log a store holds (a 64-bit integer column)
MAX_SEQ = 2**63 - 1

#: payload fields naming the agent an entry of no contract is about (`entry_readers`)
ABOUT_FIELDS = ("agent", "owner", "recipient")


def entry_readers(actor: Any, payload: Any) -> list[str]:
    """Who may read a log entry of no contract: its actor and the agent its payload's `agent`,
    `owner` or `recipient` names (an entry of a contract is read by the contract's parties)."""
    p = payload if isinstance(payload, dict) else {}
    return sorted({n for n in (actor, *(p.get(f) for f in ABOUT_FIELDS)) if isinstance(n, str)})


def party_rows(contract_id: str, created: float, proposer: Any, source_agents: Any,
               recipients: Any) -> list[tuple[str, float, str, int]]:
    """The rows of `contract_parties` of a contract: (agent, created, contract id, 1 for a source agent)."""
    owners = set(party_names(None, source_agents, ()))
    return [(agent, created, contract_id, int(agent in owners))
            for agent in party_names(proposer, source_agents, recipients)]


def stored_party_names(proposer: Any, source_agents: str | None, recipients: str | None) -> list[str]:
    """`party_names` of a row as stored (JSON lists; text that is not JSON names no one)."""
    return party_names(proposer, _json(source_agents, []), _json(recipients, []))


def stored_party_rows(rows: list[tuple]) -> list[tuple[str, float, str, int]]:
    """`party_rows` of contracts as stored: (id, proposer, source_agents, recipients, created) each."""
    return [r for cid, proposer, sources, recipients, created in rows
            for r in party_rows(cid, created, proposer, _json(sources, []), _json(recipients, []))]


def stored_entry_readers(actor: Any, payload_text: str | None) -> list[str]:
    """`entry_readers` of an entry as stored (a payload that is not JSON names no one)."""
    return entry_readers(actor, _json(payload_text, None))


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True, kw_only=True)
class ApprovalRow:
    contract_id: str
    agent: str
    signature: str  # base64 Ed25519 signature over the contract identity hash
    via_policy: str | None = None  # policy line text when a standing policy approved
    ts: float = 0.0


@dataclass(frozen=True, kw_only=True)
class RejectionRow:
    contract_id: str
    agent: str
    reason: str = ""
    via_policy: str | None = None
    ts: float = 0.0


@dataclass(frozen=True, kw_only=True)
class PolicyRow:
    owner: str
    rules: str  # canonical JSON of the rules
    source: str = ""
    updated: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ExecutionRow:
    contract_id: str
    actor: str
    status: str = "running"  # running | released | failed | short_circuit | ... (free text)
    started: float = 0.0
    finished: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None  # assigned by the store


@dataclass(frozen=True, kw_only=True)
class ReleaseRow:
    contract_id: str
    recipient: str
    path: str
    content_hash: str  # sha256 of the released (plaintext) result
    execution_id: int | None = None
    ts: float = 0.0
    file_hash: str | None = None  # sha256 of the outbox file (under no_trust: the sealed copy); None: as content_hash


@dataclass(frozen=True, kw_only=True)
class KeptRow:
    name: str  # kept result name (also the derived DE's key)
    contract_id: str
    data_key: str
    execution_id: int | None = None
    ts: float = 0.0


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    seq: int
    ts: float
    kind: str
    actor: str | None
    contract: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    signature: str  # base64 Ed25519 signature of the escrow key over `hash`


class Store(abc.ABC):
    """The escrow's persistent state. Mutations outside `transaction()` run in their own one."""

    # -- transactions --------------------------------------------------------------
    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """One atomic unit; nested use joins the outer transaction (all or nothing)."""

    @property
    @abc.abstractmethod
    def in_transaction(self) -> bool: ...

    @abc.abstractmethod
    def before_commit(self, fn) -> None:
        """Run `fn()` inside the current outermost transaction just before it commits (once per
        transaction however often it is registered; a failure aborts the transaction)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def memo(self, name: str) -> dict:
        """A dict kept with this store object for the layers above (one per `name`): facts they
        derived from its rows and log. It lives as long as the store object and is never
        written to the database, so each user checks an entry is still current before trusting it."""
        if not hasattr(self, "_memos"):
            self._memos: dict[str, dict] = {}
        return self._memos.setdefault(name, {})

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- agents --------------------------------------------------------------------
    @abc.abstractmethod
    def add_agent(self, row: AgentRow) -> None: ...
    @abc.abstractmethod
    def get_agent(self, name: str) -> AgentRow | None: ...
    @abc.abstractmethod
    def list_agents(self) -> list[AgentRow]: ...

    # -- data elements -------------------------------------------------------------
    @abc.abstractmethod
    def put_data(self, row: DataRow) -> None:
        """Insert or replace the data element `row.key`."""
    def put_data_many(self, rows) -> None:
        """Insert or replace many data elements in one transaction (bulk loads, benchmarks)."""
        with self.transaction():
            for row in rows:
                self.put_data(row)

    @abc.abstractmethod
    def get_data(self, key: str) -> DataRow | None: ...
    @abc.abstractmethod
    def list_data(self, owner: str | None = None, *, derived: bool | None = None) -> list[DataRow]:
        """Data elements in key order: of `owner` only, and only kept results (derived) or only
        data an owner added, when given."""
    @abc.abstractmethod
    def remove_data(self, key: str) -> None: ...
    @abc.abstractmethod
    def data_by_hash(self, owner: str, content_hash: str) -> list[DataRow]: ...

    # -- contracts -----------------------------------------------------------------
    @abc.abstractmethod
    def put_bundle(self, body: str) -> str:
        """Store a proposal bundle (its canonical JSON) once; its sha256, the key rows refer to it by."""
    @abc.abstractmethod
    def put_contract(self, row: ContractRow, *, bundle_ref: str | None = None) -> None:
        """Insert a new contract; `Conflict` if the id exists. Its bundle (`row.meta["bundle"]`) is
        stored with `put_bundle` and the row refers to it; `bundle_ref`: what `put_bundle` returned
        for that bundle in this transaction, when the caller stored it already (contracts proposed
        from one file share it)."""
    @abc.abstractmethod
    def get_contract(self, contract_id: str) -> ContractRow | None: ...
    @abc.abstractmethod
    def find_contracts(self, prefix: str) -> list[ContractRow]:
        """Contracts whose id starts with `prefix` (for abbreviated ids)."""
    @abc.abstractmethod
    def list_contracts(self, status: str | None = None, proposer: str | None = None,
                       name: str | None = None) -> list[ContractRow]: ...
    @abc.abstractmethod
    def set_contract_status(self, contract_id: str, status: str, meta: dict | None = None, *,
                            updated: float | None = None) -> None:
        """Change status (and replace `meta` when given); `updated` is recorded (now by default)."""
    @abc.abstractmethod
    def swap_contract_status(self, contract_id: str, expected: str, status: str) -> bool:
        """Set `status` only if the contract's status is `expected` now (one atomic compare-and-set);
        True when it changed. How one execution claims a contract before any user code runs."""
    def contracts_keeping(self, name: str, statuses: tuple[str, ...]) -> list[ContractRow]:
        """Contracts with one of `statuses` whose row says they keep their result as `name`
        (`meta["kept_as"]`), in creation order (a backend answers with one query)."""
        rows = [r for s in set(statuses) for r in self.list_contracts(status=s) if r.meta.get("kept_as") == name]
        return sorted(rows, key=lambda r: (r.created, r.id))

    def party_place(self, agent: str, contract_id: str) -> tuple[float, str] | None:
        """Where contract `contract_id` stands among `agent`'s (a (created, id) pair, the `after`
        of `contracts_of` and `pending_for`); None when `agent` is not party to it."""
        row = self.get_contract(contract_id)
        return (row.created, row.id) if row is not None and agent in row.parties else None

    def pending_for(self, agent: str, *, after: tuple[float, str] | None = None,
                    limit: int | None = None) -> list[ContractRow]:
        """Pending contracts among whose source agents `agent` is and that it has not approved, in
        creation order, paged as `contracts_of` (a backend answers from an index of source agents)."""
        return _page([r for r in self.list_contracts(status=ContractStatus.PENDING)
                      if agent in r.source_agents and agent not in {a.agent for a in self.approvals(r.id)}],
                     after, limit)

    def contracts_of(self, agent: str, status: str | None = None, *, after: tuple[float, str] | None = None,
                     limit: int | None = None) -> list[ContractRow]:
        """Contracts `agent` is party to (`ContractRow.parties`), of `status` when given, in
        creation order ((created, id)), those after `after` (a (created, id) pair), at most
        `limit` (a backend answers from an index of parties; a page is shorter than `limit` only
        when rows were edited by hand)."""
        return _page([r for r in self.list_contracts(status=status) if agent in r.parties], after, limit)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one consistent state of the store, for work that writes nothing (SQLite:
        without holding the write lock other processes' writers wait for). By default a transaction."""
        with self.transaction():
            yield

    def contract_ids(self, status: str) -> list[str]:
        """The ids of the contracts with `status`, newest first (without their bundles)."""
        return [r.id for r in reversed(self.list_contracts(status=status))]

    def decision_state(self, contract_id: str) -> tuple[str, str, bool, tuple[int, str] | None] | None:
        """(name, status, released to anyone, (seq, hash) of the audit head) of a contract, read
        together (one statement where the backend can); None when there is no such contract.
        What the escrow reads on every release decision (`escrow/decisions.py`)."""
        row = self.get_contract(contract_id)
        if row is None:
            return None
        head = self.audit_head()
        return row.name, row.status, bool(self.releases(contract_id=contract_id)), head[:2] if head else None

    @abc.abstractmethod
    def contracts_using(self, data_key: str, statuses: tuple[str, ...] | None = OPEN_STATUSES) -> list[ContractRow]:
        """Contracts whose inputs include `data_key` (any status when `statuses` is None)."""

    # -- approvals and rejections --------------------------------------------------
    @abc.abstractmethod
    def add_approval(self, row: ApprovalRow) -> None:
        """`Conflict` if this agent already approved this contract."""
    @abc.abstractmethod
    def approvals(self, contract_id: str) -> list[ApprovalRow]: ...

    def contract_with_approvals(self, contract_id: str) -> tuple[ContractRow | None, list[ApprovalRow]]:
        """`get_contract` and `approvals` of one contract, read together (PostgreSQL: in one round
        trip)."""
        return self.get_contract(contract_id), self.approvals(contract_id)
    @abc.abstractmethod
    def remove_approvals(self, contract_id: str, agent: str | None = None) -> int: ...
    @abc.abstractmethod
    def add_rejection(self, row: RejectionRow) -> None: ...
    @abc.abstractmethod
    def rejections(self, contract_id: str) -> list[RejectionRow]: ...

    # -- policies ------------------------------------------------------------------
    @abc.abstractmethod
    def put_policy(self, row: PolicyRow) -> None:
        """Insert or replace the standing policy of `row.owner`."""
    @abc.abstractmethod
    def get_policy(self, owner: str) -> PolicyRow | None: ...
    @abc.abstractmethod
    def list_policies(self) -> list[PolicyRow]: ...
    @abc.abstractmethod
    def remove_policy(self, owner: str) -> None: ...

    # -- executions, releases, kept results -----------------------------------------
    @abc.abstractmethod
    def add_execution(self, row: ExecutionRow) -> int: ...
    @abc.abstractmethod
    def finish_execution(self, execution_id: int, status: str, detail: dict | None = None, finished: float | None = None) -> None: ...
    @abc.abstractmethod
    def get_execution(self, execution_id: int) -> ExecutionRow | None: ...
    @abc.abstractmethod
    def executions(self, contract_id: str | None = None, status: str | None = None) -> list[ExecutionRow]:
        """Executions in id order (of one contract and/or with one status)."""
    @abc.abstractmethod
    def add_release(self, row: ReleaseRow) -> None:
        """`Conflict` if this contract was already released to this recipient."""
    @abc.abstractmethod
    def releases(self, contract_id: str | None = None, recipient: str | None = None) -> list[ReleaseRow]: ...
    @abc.abstractmethod
    def put_kept(self, row: KeptRow) -> None: ...
    @abc.abstractmethod
    def get_kept(self, name: str) -> KeptRow | None: ...
    @abc.abstractmethod
    def list_kept(self) -> list[KeptRow]: ...

    # -- app state -----------------------------------------------------------------
    @abc.abstractmethod
    def set_state(self, scope: str, key: str, value: Any) -> None: ...
    @abc.abstractmethod
    def get_state(self, scope: str, key: str, default: Any = None) -> Any: ...
    @abc.abstractmethod
    def delete_state(self, scope: str, key: str) -> None: ...
    @abc.abstractmethod
    def list_state(self, scope: str) -> dict[str, Any]: ...

    # -- settings ------------------------------------------------------------------
    @abc.abstractmethod
    def get_setting(self, key: str) -> str | None:
        """A small text value the escrow keeps about itself (e.g. `audit.genesis`), or None."""
    @abc.abstractmethod
    def set_setting(self, key: str, value: str | None) -> None:
        """Set (or with None, delete) a setting."""

    # -- request nonces ------------------------------------------------------------
    @abc.abstractmethod
    def use_nonce(self, agent: str, nonce: str, ts: float) -> None:
        """Record a request nonce; `ReplayError` if this agent used it before (on PostgreSQL, inside
        a transaction, raised by the transaction's next statement: `SQLStore._write_later`)."""
    @abc.abstractmethod
    def prune_nonces(self, before: float) -> int: ...

    def prune_nonces_now_and_then(self, before: float, *, now: float, every: float = 10.0) -> None:
        """`prune_nonces(before)` at most once per `every` seconds of this store object: a nonce
        older than the request window can never be replayed, so keeping it a little longer
        changes nothing, and pruning on every request costs a statement each."""
        last = getattr(self, "_nonces_pruned_at", None)
        if last is None or not 0 <= now - last < every:
            self.prune_nonces(before)
            self._nonces_pruned_at = now

    # -- audit (append through datastation.runtime.audit.AuditLog) -------------------
    def others_commits(self) -> int | None:
        """A number that changes whenever another connection (another process, a hand edit) has
        committed to the store since this one last asked, or None when the backend cannot tell
        (then every caller reads what it needs). SQLite: `PRAGMA data_version`."""
        return None

    @abc.abstractmethod
    def audit_head(self) -> tuple[int, str, str] | None:
        """(seq, hash, signature of the head record) of the last entry, or None when empty."""
    @abc.abstractmethod
    def audit_insert(self, entry: AuditEntry, head_signature: str | None = None, *,
                     payload_text: str | None = None) -> None:
        """Insert an entry and point the head record at it (signature set later by set_audit_head).
        `payload_text`: the payload's canonical JSON when the caller has it (stored as given)."""
    @abc.abstractmethod
    def set_audit_head(self, seq: int, hash_: str, signature: str) -> None: ...
    @abc.abstractmethod
    def audit_entries(self, contract: str | None = None, agent: str | None = None, after_seq: int = 0) -> Iterator[AuditEntry]:
        """Entries in `seq` order; the `agent` filter matches the actor or an `agent`/`recipient` in the payload."""

    @abc.abstractmethod
    def audit_about(self, agent: str, *, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """What `agent` may read of the log: the first `limit` entries after `after_seq`, in `seq`
        order, of a contract it is party to (`ContractRow.parties`), or of no contract and read by
        it (`entry_readers`). A backend answers from its index of parties and an index of the
        readers of each entry of no contract, each answer checked against the entry and the
        contract's own row."""

    @abc.abstractmethod
    def audit_raw(self) -> list[tuple]:
        """Rows exactly as stored, in seq order: (seq, ts, kind, actor, contract, payload_text,
        prev_hash, hash, signature). Verification hashes the stored payload text."""

    @abc.abstractmethod
    def audit_count(self) -> int: ...

    def audit_mark(self, kind: str) -> tuple[int, int, str] | None:
        """(how many, seq and hash of the last) entries of `kind` there are (None when there is
        none): a cheap check that no entry of that kind was written or removed since a look-up."""
        found = self.audit_find((kind,))
        return (len(found), found[-1].seq, found[-1].hash) if found else None

    @abc.abstractmethod
    def audit_find(self, kinds: Sequence[str], *, contract: str | None = None, field: str | None = None,
                   value: str | None = None) -> list[AuditEntry]:
        """Entries whose kind is one of `kinds`, in `seq` order; only those of `contract` when given,
        and only those whose payload has the top-level key `field` equal to the string `value` when
        given. What the escrow uses to find the signed entry behind a row (check the entry's
        signature with `audit.entry_valid` before believing it)."""


def _page(rows: list[ContractRow], after: tuple[float, str] | None, limit: int | None) -> list[ContractRow]:
    rows = sorted(rows, key=lambda r: (r.created, r.id))
    if after is not None:
        rows = [r for r in rows if (r.created, r.id) > tuple(after)]
    return rows if limit is None else rows[:limit]
