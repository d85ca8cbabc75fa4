"""The statuses a proposed contract goes through (one list, used by the escrow and its store)."""

from __future__ import annotations

from enum import StrEnum


class ContractStatus(StrEnum):
    """Where a proposed contract stands. The values are what the store records."""

    PENDING = "pending"  # waiting for approvals
    APPROVED = "approved"  # every source agent approved: a recipient may execute it
    RUNNING = "running"  # claimed by one execution (the only one): user code may be running
    DENIED = "denied"  # a standing deny of a source agent blocks it
    REJECTED = "rejected"  # a source agent rejected it
    REVOKED = "revoked"  # its proposer withdrew it
    EXECUTED = "executed"  # ran, every condition held, the result was released (or kept)
    FAILED = "failed"  # a require or an ensure did not hold: nothing released
    SHORT_CIRCUITED = "short_circuit"  # the function read data outside the contract: stopped
    ERRORED = "error"  # the function or a condition failed: nothing released


#: Contracts that may still run (a data element they use cannot be removed or replaced).
OPEN: frozenset[ContractStatus] = frozenset({ContractStatus.PENDING, ContractStatus.APPROVED})
#: Contracts whose data must stay as approved: open ones and the one running now.
MAY_RUN: frozenset[ContractStatus] = OPEN | {ContractStatus.RUNNING}
#: Contracts that ran and released nothing.
ENDED_WITHOUT_RELEASE: frozenset[ContractStatus] = frozenset(
    {ContractStatus.FAILED, ContractStatus.SHORT_CIRCUITED, ContractStatus.ERRORED})
