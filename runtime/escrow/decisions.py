"""The verified decision index: what the escrow decides an execute request from, in memory.

Deriving a contract's facts (`facts.py`: its stored proposal bound to its identity, its inputs
bound to the signed log) and re-verifying every approval's Ed25519 signature costs far more
than the decision itself. The index keeps, per contract, the result of that verification: the
source agents and recipients as the approved proposal defines them, whether every recipient's
key is bound by the log, the bitmask of approvals whose signatures (and, for policy approvals,
whose owner's bound policy) verified, and the contract's status and whether it was released as
the store held them at the log head the index reflects. Entries are built lazily, by exactly
the derivation `facts.py` does (so a tampered row is refused as before and never cached; the
index starts empty when the escrow opens, so nothing is believed before it was verified in this
process; `dsc serve` verifies the approved contracts into it at start-up: `execution.warm`), and
kept only while the signed audit log says nothing changed:

- every entry this process appends is *observed* (`observe`); an `approval` entry (whose
  signature the approve action has just verified) updates the entry's bitmask in place and
  makes its status unknown (read again from the store on its next decision), anything else
  about a contract drops that contract's entry, and entries about agents, data, kept
  results, policies or recovery drop every entry and every cached key binding;
- when the decision reads the store, it compares the head of the log (sequence and hash, read
  in the decision's own transaction) with the head it reflects: when it moved only through
  entries this process observed (followed back by their hash links) they are applied;
  otherwise another process changed the store and the entries since are read back and
  applied as invalidations (never trusted for anything but "drop"); an unexpected head drops
  all. Rolled-back appends are never applied: only a chain of hashes ending at the committed
  head is.

Why deciding from memory, without reading the store, is sound (`execution.decide`):

- the memory is used only when this process has no effective entry of its own not yet matched
  to the committed head (`quiet`), and only for an entry whose status is known;
- a *go-ahead* from memory is never final: before anything runs the decision is taken again
  from the store (`execution._verify_before_run`: status, released, head; the index synced),
  the contract's facts are derived and every approval verified again in full, and the claim
  (`approved` -> `running`) is an atomic compare-and-set in the store. A stale memory can
  delay a refusal by that much, never release;
- a *refusal* from memory is returned only after the store confirms it: the committed log head
  is read (one primary-key row) and must be the head the index reflects; every legitimate
  change of a contract, an approval, an agent or a policy appends to the signed log in the
  same transaction, so an unchanged head means the refusal holds. If the head moved (another
  process, e.g. a second server worker on one PostgreSQL store, approved or revoked), the index
  is synced and the decision taken again from the store's row. A row edited by hand without a
  log entry cannot turn a refusal into a release (a go-ahead is re-checked in full). The read is
  skipped while the store says no other connection committed since the head was last found to
  be the index's (`Store.others_commits`: SQLite's `PRAGMA data_version`, read once as the write
  transaction begins, so the decision itself runs no statement; PostgreSQL cannot tell, and
  compares the head it read in the round trip that began the transaction): this process's own
  effective entries make the index unquiet, so then nothing but its own ineffective entries
  (refusals) can be new.

The bound key of each agent that signs a request is remembered by `audit.bound_agent_key`
(per store, checked on every request against the last `agent_created` entry), not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from datastation.contracts import release as rel

NO_EFFECT = frozenset({"refusal", "data_read", "condition", "genesis", "app_state", "release", "short_circuit",
                       "invite", "invite_used"})
GLOBAL = frozenset({"agent_created", "data_add", "data_replace", "data_remove", "kept", "policy_apply", "recovery"})
MAX_OBSERVED = 4096  # own entries kept until the next decision (beyond: forgotten, read back instead)
MAX_CATCH_UP = 10_000  # more entries than this since the index's head: start again empty


@dataclass(slots=True)
class Entry:
    """The verified facts of one contract that the decision reads."""

    name: str
    parties: frozenset  # the contract row's parties: anyone else is answered as for an unknown id
    proposer: str
    recipients: frozenset
    source_agents: tuple[str, ...]
    bits: rel.AgentBits
    required: int
    approved: int
    unbound: str | None  # the first recipient without a key the log binds (None: all bound)
    status: str | None = None  # the row's status at the index's head (None: read it from the store)
    released: bool = False  # released to anyone at the index's head
    awaiting: tuple[int, str] | None = None  # (approved, the awaiting refusal's text) last said

    def missing(self) -> list[str]:
        return self.bits.names(self.required & ~self.approved)

    def awaiting_message(self) -> str:
        """The awaiting-approval refusal's text, naming who must still approve; kept until the
        approvals change (refused again and again, an entry costs no new text)."""
        said = self.awaiting
        if said is None or said[0] != self.approved:
            text = f"contract {self.name} still needs the approval of {', '.join(self.missing())}"
            said = self.awaiting = (self.approved, text)
        return said[1]


class DecisionIndex:
    def __init__(self):
        self.entries: dict[str, Entry] = {}
        self.head: tuple[int, str] | None = None  # the log head the entries reflect
        # the store's `others_commits()` when `head` was last read as the committed head: while it
        # is the same, no other connection committed since (a refusal needs no read: `decide`)
        self.others_commits: int | None = None
        self._observed: dict[str, object] = {}  # hash -> AuditEntry appended by this process
        self._unsynced = False  # an effective own entry not yet matched to the committed head
        self.stats = {"built": 0, "catch_up_reads": 0, "dropped_all": 0}

    # -- what this process appends ------------------------------------------------------
    def observe(self, entry) -> None:
        """An entry this process appended (maybe rolled back later: applied only if committed)."""
        if len(self._observed) >= MAX_OBSERVED:
            self._observed.clear()  # the next sync reads the entries back instead
        self._observed[entry.hash] = entry
        if entry.kind not in NO_EFFECT:
            self._unsynced = True

    @property
    def quiet(self) -> bool:
        """Whether the memory may answer: no effective entry of this process since the last sync."""
        return not self._unsynced

    # -- keeping in step with the log ---------------------------------------------------
    def sync(self, store, head: tuple[int, str] | None) -> None:
        """Bring the index to the committed log head `head` (read in the caller's transaction)."""
        if head == self.head:
            return
        chain = self._own_chain(head)
        if chain is not None:
            for e in chain:
                self._apply(e, own=True)
        elif self.head is None or head is None or head[0] <= self.head[0] or head[0] - self.head[0] > MAX_CATCH_UP:
            self.drop_all()
        else:
            self.stats["catch_up_reads"] += 1
            for e in store.audit_entries(after_seq=self.head[0]):
                own = self._observed.get(e.hash)
                self._apply(own if own is not None else e, own=own is not None)
        self.head = head
        if len(self._observed) > 64 or chain is not None:
            self._observed = {h: e for h, e in self._observed.items() if head is None or e.seq > head[0]}
        self._unsynced = any(e.kind not in NO_EFFECT and (head is None or e.seq > head[0])
                             for e in self._observed.values())

    def _own_chain(self, head):
        """The entries from this index's head to `head`, if this process appended all of them."""
        if self.head is None or head is None:
            return None
        out, h = [], head[1]
        while h != self.head[1]:
            e = self._observed.get(h)
            if e is None or e.seq <= self.head[0]:
                return None
            out.append(e)
            h = e.prev_hash
        return out[::-1] if out and out[0].seq == head[0] else None

    def _apply(self, e, *, own: bool) -> None:
        kind = e.kind
        if kind in NO_EFFECT:
            return
        if kind in GLOBAL or not e.contract:
            self.drop_all()
            return
        entry = self.entries.get(e.contract)
        if entry is None:
            return
        if own and kind == "approval":  # verified by the approve action before it appended this
            agent = e.payload.get("agent")
            if agent in entry.source_agents:
                entry.approved |= entry.bits.bit(agent)
                entry.status = None  # the approval may have changed it: read on the next decision
                return
        del self.entries[e.contract]

    def drop_all(self) -> None:
        self.entries.clear()
        self.stats["dropped_all"] += 1

    # -- the decision -------------------------------------------------------------------
    def entry(self, cid: str, build) -> Entry:
        e = self.entries.get(cid)
        if e is None:
            e = build()  # raises the derivation's refusal (nothing cached)
            self.entries[cid] = e
            self.stats["built"] += 1
        return e


def release_facts_of(entry: Entry, status: str) -> rel.ReleaseFacts:
    return rel.ReleaseFacts(required=entry.required, approved=entry.approved, recipients=entry.recipients,
                            denied=status == "denied", rejected=status == "rejected", revoked=status == "revoked")
