"""The escrow's services: the lifecycle (propose, approve, reject, revoke, policies), data
elements, agents, and the execution that ends in a release, behind one facade (`Escrow`).

    from datastation.runtime.escrow import Escrow, PROPOSE, make_bundle, propose_params

    with Escrow.open(config) as escrow:
        proposal = escrow.propose(escrow.sign_as("bank1", PROPOSE, propose_params(make_bundle(path), "joint_model")))

Modules: `context` (the open escrow, refusals, the signed-action wrapper), `actions` (action
names), `agents`, `data`, `bundle` (proposal bundles), `lifecycle`, `execution`, `facade`.
"""

from .actions import (
    APPROVE,
    APPROVE_MANY,
    DATA_ADD,
    DATA_REMOVE,
    EXECUTE,
    POLICY_APPLY,
    PROPOSE,
    PROPOSE_MANY,
    REJECT,
    REVOKE,
)
from .bundle import make_bundle
from .context import EscrowContext, EscrowRefusal, open_escrow
from .facade import Escrow
from .lifecycle import approve_params, policy_params, propose_many_params, propose_params

__all__ = [
    "APPROVE", "APPROVE_MANY", "DATA_ADD", "DATA_REMOVE", "EXECUTE", "POLICY_APPLY", "PROPOSE", "PROPOSE_MANY",
    "REJECT", "REVOKE", "Escrow", "EscrowContext", "EscrowRefusal", "approve_params", "make_bundle", "open_escrow",
    "policy_params", "propose_many_params", "propose_params",
]
