"""The names of the signed actions: what a request's `action` field says it is for."""

from __future__ import annotations

DATA_ADD, DATA_REMOVE = "data.add", "data.remove"
PROPOSE, APPROVE, REJECT, REVOKE = "contract.propose", "contract.approve", "contract.reject", "contract.revoke"
POLICY_APPLY, EXECUTE = "policy.apply", "contract.execute"
# Several contracts in one request and one transaction, all or nothing (lifecycle.propose_many, approve_many)
PROPOSE_MANY, APPROVE_MANY = "contract.propose_many", "contract.approve_many"
REGISTER = "agent.register"  # signed by the key being registered (proof of possession), with an invite

# Reads are signed too (a fresh nonce and timestamp each), and answer only what the agent may see.
READ_CONTRACTS, READ_STATUS, READ_SUMMARY = "read.contracts", "read.status", "read.summary"
READ_DATA, READ_AUDIT, READ_POLICY, READ_RESULT = "read.data", "read.audit", "read.policy", "result.fetch"
READ_GRAPH = "read.graph"

# The stages of an execution, in order, as `Escrow.execute(..., progress=)` tells them (and a
# served escrow streams them: runtime/server/stages.py); a stage without conditions is skipped.
STAGES: tuple[str, ...] = ("verifying", "require", "compute", "ensure", "release")
