"""The names of the signed actions: what a request's `action` field says it is for."""

from __future__ import annotations

DATA_ADD, DATA_REMOVE = "data.add", "data.remove"
PROPOSE, APPROVE, REJECT, REVOKE = "contract.propose", "contract.approve", "contract.reject", "contract.revoke"
POLICY_APPLY, EXECUTE = "policy.apply", "contract.execute"
