"""The escrow facade: the one API every front end calls (the CLI and tests).

    with Escrow.open(config) as escrow:
        req = escrow.sign_as("bank1", PROPOSE, propose_params(make_bundle(path), "joint_model"))
        proposal = escrow.propose(req)
        escrow.approve(escrow.sign_as("bank2", APPROVE, escrow.approval_params("bank2", cid)))
        report = escrow.execute(escrow.sign_as("bank1", EXECUTE, {"contract": cid}))

Actions take a `SignedRequest`; the escrow verifies it before acting and refuses with
`EscrowRefusal` (stable `.code`), leaving only a `refusal` audit entry. The `sign_as` and
`approval_params` helpers are the client side (they read the agent's key from the keyring).
"""

from __future__ import annotations

from ..keys import load_agent_key, make_request, passphrase_from_env
from . import agents, data, execution, lifecycle
from .context import open_escrow


class Escrow:
    def __init__(self, ctx):
        self.ctx = ctx
        self.config = ctx.config
        self._executor = None

    @classmethod
    def open(cls, config) -> "Escrow":
        return cls(open_escrow(config))

    def close(self) -> None:
        self.ctx.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def store(self):
        return self.ctx.store

    @property
    def executor(self):
        if self._executor is None:
            self._executor = execution.executor_for(self.config)
        return self._executor

    # ------------------------------------------------------------ agents and data
    def create_agent(self, name: str, display: str = "", passphrase: bytes | None = None):
        return agents.create_agent(self.ctx, name, display, passphrase)

    def register_agent(self, name: str, public_key_pem: str, display: str = ""):
        return agents.register_agent(self.ctx, name, public_key_pem, display)

    def add_data(self, request, contents: bytes):
        return data.add_data(self.ctx, request, contents)

    def remove_data(self, request):
        return data.remove_data(self.ctx, request)

    # ------------------------------------------------------------ signed actions
    def propose(self, request) -> lifecycle.Proposal:
        return lifecycle.propose(self.ctx, request)

    def approve(self, request):
        return lifecycle.approve(self.ctx, request)

    def reject(self, request):
        return lifecycle.reject(self.ctx, request)

    def revoke(self, request):
        return lifecycle.revoke(self.ctx, request)

    def apply_policy(self, request) -> lifecycle.PolicyApplied:
        return lifecycle.apply_policy(self.ctx, request)

    def execute(self, request) -> execution.ExecutionReport:
        return execution.execute(self.ctx, request, self.executor)

    # ------------------------------------------------------------ reads
    def resolve_id(self, text: str) -> str:
        return lifecycle.resolve_id(self.ctx.store, text)

    def status(self, contract_id: str) -> lifecycle.Status:
        return lifecycle.status(self.ctx, self.resolve_id(contract_id))

    def contracts(self, status: str | None = None):
        return self.ctx.store.list_contracts(status=status)

    def pending_for(self, agent: str):
        return lifecycle.pending_for(self.ctx, agent)

    # ------------------------------------------------------------ client side
    def _key(self, agent: str, passphrase_env: str | None = None):
        if not hasattr(self, "_keys"):
            self._keys = {}
        k = (agent, passphrase_env)
        if k not in self._keys:  # one load (and passphrase prompt) per agent and session
            self._keys[k] = load_agent_key(self.config.keyring_path, agent, passphrase_from_env(passphrase_env, agent))
        return self._keys[k]

    def sign_as(self, agent: str, action: str, params: dict, passphrase_env: str | None = None):
        """A request signed with `agent`'s key from the keyring."""
        return make_request(agent, self._key(agent, passphrase_env), action, params)

    def approval_params(self, agent: str, contract_id: str, passphrase_env: str | None = None) -> dict:
        """`agent` signs the contract identity hash (what an approval is)."""
        return lifecycle.approve_params(self._key(agent, passphrase_env), contract_id)
