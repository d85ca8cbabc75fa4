"""The release decision: may this contract's result go to this recipient now?

    release  <=>  every source agent approved  ∧  no deny  ∧  not rejected/revoked
                  ∧ every require held ∧ every ensure held ∧ recipient ∈ to

Everything that needs a graph walk (source agents through provenance) is computed once,
when the contract is proposed, into an agent bitmask; the decision itself is a handful of
integer and set operations, so it stays in the microseconds with 100,000 contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

RELEASE = "release"
NOT_RECIPIENT = "not a recipient"
DENIED = "denied"
REJECTED = "rejected"
REVOKED = "revoked"
AWAITING = "awaiting approval"
REQUIRE_FAILED = "a require did not hold"
ENSURE_FAILED = "an ensure did not hold"
NOT_EVALUATED = "conditions not evaluated yet"


@dataclass(slots=True)
class ReleaseFacts:
    """The state of one contract, reduced to what the decision needs."""

    required: int  # bitmask of source agents
    approved: int = 0  # bitmask of agents whose approval (by hand or by policy) is recorded
    recipients: frozenset = frozenset()
    denied: bool = False
    rejected: bool = False
    revoked: bool = False
    requires_held: bool | None = None  # None: not evaluated yet
    ensures_held: bool | None = None


def release_decision(f: ReleaseFacts, recipient) -> str:
    """RELEASE or the first reason not to (constants of this module)."""
    if recipient not in f.recipients:
        return NOT_RECIPIENT
    blocked = may_execute(f)
    if blocked != RELEASE:
        return blocked
    if f.requires_held is not True:
        return NOT_EVALUATED if f.requires_held is None else REQUIRE_FAILED
    if f.ensures_held is not True:
        return NOT_EVALUATED if f.ensures_held is None else ENSURE_FAILED
    return RELEASE


def may_execute(f: ReleaseFacts) -> str:
    """RELEASE when the contract may run (approvals complete, nothing blocks it)."""
    if f.denied:
        return DENIED
    if f.rejected:
        return REJECTED
    if f.revoked:
        return REVOKED
    if f.required & ~f.approved:
        return AWAITING
    return RELEASE


class AgentBits:
    """Agent name <-> bit position."""

    def __init__(self, names: Iterable[str] = ()):
        self.index: dict[str, int] = {}
        for n in names:
            self.bit(n)

    def bit(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.index)
        return 1 << i

    def mask(self, names: Iterable[str]) -> int:
        m = 0
        for n in names:
            m |= self.bit(n)
        return m

    def names(self, mask: int) -> list[str]:
        return sorted(n for n, i in self.index.items() if mask >> i & 1)


class ReleaseIndex:
    """Release facts of many contracts, keyed by contract id."""

    def __init__(self):
        self.agents = AgentBits()
        self.facts: dict[str, ReleaseFacts] = {}

    def add(self, contract_id: str, source_agents: Iterable[str], recipients: Iterable[str]) -> ReleaseFacts:
        f = ReleaseFacts(required=self.agents.mask(source_agents), recipients=frozenset(recipients))
        self.facts[contract_id] = f
        return f

    def approve(self, contract_id: str, agent: str) -> None:
        self.facts[contract_id].approved |= self.agents.bit(agent)

    def missing(self, contract_id: str) -> list[str]:
        f = self.facts[contract_id]
        return self.agents.names(f.required & ~f.approved)

    def decide(self, contract_id: str, recipient: str) -> str:
        f = self.facts.get(contract_id)
        if f is None:
            return NOT_RECIPIENT
        return release_decision(f, recipient)
