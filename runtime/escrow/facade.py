"""The escrow facade: the one API every front end calls (the CLI and tests).

    with Escrow.open(config) as escrow:
        req = escrow.sign_as("bank1", PROPOSE, propose_params(make_bundle(path), "joint_model"))
        proposal = escrow.propose(req)
        escrow.approve(escrow.sign_as("bank2", APPROVE, escrow.approval_params("bank2", cid)))
        report = escrow.execute(escrow.sign_as("bank1", EXECUTE, {"contract": cid}))

Actions take a `SignedRequest`; the escrow verifies it before acting and refuses with
`EscrowRefusal` (stable `.code`), leaving only a `refusal` audit entry. The `create_agent`,
`sign_as` and `approval_params` helpers are the client side of a local escrow: they use the
agents' keys from the user's keyring (`config.keyring_path`, outside the escrow) and name this
escrow's id in everything they sign.
"""

from __future__ import annotations

from ..keyring import Keyring, check_pinned_escrow
from ..keys import KeysError, make_request, public_pem
from ..store import StoreError
from . import agents, data, execution, invites, lifecycle, reads, results
from .actions import READ_DATA
from .context import open_escrow, preverify


class Escrow:
    def __init__(self, ctx, keyring: Keyring | None = None):
        self.ctx = ctx
        self.config = ctx.config
        self.keyring = keyring or Keyring(ctx.config.keyring_path)
        self._executor = None
        self._keys: dict = {}

    @classmethod
    def open(cls, config, keyring: Keyring | None = None) -> "Escrow":
        return cls(open_escrow(config), keyring)

    def close(self) -> None:
        self.ctx.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def store(self):
        return self.ctx.store

    def without_waiting(self):
        """A block that runs only if the store is free (`Store.without_waiting`: else `store.Busy`,
        nothing done): for a caller that must not wait long for a lock."""
        return self.ctx.store.without_waiting()

    @property
    def executor(self):
        if self._executor is None:
            self._executor = execution.executor_for(self.config)
        return self._executor

    # ------------------------------------------------------------ agents and data
    def register_agent(self, name: str, public_key_pem: str, display: str = ""):
        return agents.register_agent(self.ctx, name, public_key_pem, display)

    def add_data(self, request, contents: bytes):
        return data.add_data(self.ctx, request, contents)

    def add_data_file(self, request, path):
        """`add_data` with the contents in a file (streamed: never read whole)."""
        return data.add_data_file(self.ctx, request, path)

    def remove_data(self, request):
        return data.remove_data(self.ctx, request)

    def invite(self, agent: str, ttl_seconds: float) -> tuple[str, float]:
        """Operator side: a one-time token (and its expiry) with which `agent` registers its key."""
        return invites.issue_invite(self.ctx, agent, ttl_seconds)

    def register_invited(self, request):
        """A signed `agent.register` request (by the key it registers) carrying an invitation."""
        return invites.register_invited(self.ctx, request)

    def check_request(self, request, action: str) -> str:
        """The agent whose valid request this is, without spending its nonce (before a large body)."""
        return preverify(self.ctx, request, action)

    # ------------------------------------------------------------ signed actions
    def propose(self, request) -> lifecycle.Proposal:
        return lifecycle.propose(self.ctx, request)

    def propose_many(self, request) -> list[lifecycle.Proposal]:
        """Several contracts of one bundle in one request and one transaction, all or nothing."""
        return lifecycle.propose_many(self.ctx, request)

    def approve(self, request):
        return lifecycle.approve(self.ctx, request)

    def approve_many(self, request):
        """Several approvals (each its own signature) in one request and one transaction, all or nothing."""
        return lifecycle.approve_many(self.ctx, request)

    def reject(self, request):
        return lifecycle.reject(self.ctx, request)

    def revoke(self, request):
        return lifecycle.revoke(self.ctx, request)

    def apply_policy(self, request) -> lifecycle.PolicyApplied:
        return lifecycle.apply_policy(self.ctx, request)

    def execute(self, request, progress=None, *, values: bool = False) -> execution.ExecutionReport:
        """Run an approved contract; `progress(stage)` is told each stage (`execution.STAGES`) as it begins.

        The report carries the values its conditions compared only with `values=True` (`dsc run`,
        whose user is every party): they may describe data the caller may not see."""
        try:
            rep = execution.execute(self.ctx, request, self.executor, progress)
        except execution.ExecutionInterrupted as exc:
            if not values:
                exc.report.without_values()
            raise
        return rep if values else rep.without_values()

    def warm_decisions(self, stop=None) -> tuple[int, int]:
        """Verify the approved contracts into the decision index now (newest first; each one's facts
        derived and every approval's signature checked, as its first execute request would), so
        that their execute requests are decided from memory; `stop` (a `threading.Event`) ends it
        early. Returns (verified, refused): a refused contract is not cached, its execute request
        meets the refusal (audited) as before. `dsc serve` runs it at start-up."""
        verified = refused = 0
        for cid in self.ctx.store.contract_ids("approved"):
            if stop is not None and stop.is_set():
                break
            try:
                ok = execution.warm(self.ctx, cid)
            except StoreError:
                raise
            except Exception:  # a row edited into something the derivation cannot read: not cached
                ok = False
            verified, refused = verified + ok, refused + (not ok)
        return verified, refused

    # ------------------------------------------------------------ reads
    def resolve(self, ref: str):
        """The contract a user's reference names: its id, its name (the latest proposal of that
        name) or an id prefix of at least 4 characters (every command resolves through this)."""
        return lifecycle.resolve_contract(self.ctx.store, ref)

    def resolve_id(self, ref: str) -> str:
        return self.resolve(ref).id

    def status(self, contract_id: str) -> lifecycle.Status:
        return lifecycle.status(self.ctx, self.resolve_id(contract_id))

    def contracts(self, status: str | None = None):
        return self.ctx.store.list_contracts(status=status)

    def pending_for(self, agent: str):
        return lifecycle.pending_for(self.ctx, agent)

    @property
    def page_size(self) -> int:
        """The longest page of contracts a signed read answers (`reads.MAX_CONTRACT_PAGE`)."""
        return reads.MAX_CONTRACT_PAGE

    def pending_page(self, agent: str):
        """The first page (`reads.MAX_CONTRACT_PAGE`) of the contracts waiting for `agent`: for a
        caller that verified a signed read of the agent's contracts."""
        return lifecycle.pending_for(self.ctx, agent, limit=reads.MAX_CONTRACT_PAGE)

    # ------------------------------------------------------------ signed reads (what a party may see)
    def contracts_for(self, request):
        return reads.contracts_for(self.ctx, request)

    def status_for(self, request) -> lifecycle.Status:
        return reads.status_for(self.ctx, request)

    def summary_for(self, request) -> dict:
        return reads.summary_for(self.ctx, request)

    def graph_for(self, request):
        """(contract row, its dataflow graph as DOT)."""
        return reads.graph_for(self.ctx, request)

    def data_for(self, request) -> list[dict]:
        return reads.data_for(self.ctx, request)

    def data_views(self, agent: str | None = None, passphrase_env: str | None = None) -> list[dict]:
        """Every data element as `reads.data_view`s; with `agent`, seen by that agent (a read
        signed with its own key: its own files' sha256 and sizes are shown)."""
        request = None if agent is None else self.sign_as(agent, READ_DATA, {}, passphrase_env)
        return reads.data_views(self.ctx, request)

    def policy_for(self, request):
        return reads.policy_for(self.ctx, request)

    def audit_for(self, request):
        return reads.audit_for(self.ctx, request)

    def result_for(self, request) -> reads.ResultFile:
        return reads.result_for(self.ctx, request)

    def check_approver(self, agent: str, contract_id: str, passphrase_env: str | None = None) -> None:
        """Refuse now what `approve` would refuse for `agent` (not a source agent, closed, already
        approved), and load `agent`'s key: a wrong `--as` fails before anything is shown."""
        lifecycle.check_may_approve(self.ctx, self.resolve_id(contract_id), agent)
        self._key(agent, passphrase_env)

    def result(self, agent: str, contract_id: str, passphrase_env: str | None = None) -> results.ReleasedResult:
        """The result of `contract_id` released to `agent`, opened with `agent`'s key from the keyring
        (refused for anyone the contract did not release to)."""
        rel = results.release_for(self.ctx, self.resolve_id(contract_id), agent)
        return results.open_release(self.ctx, rel, self._key(agent, passphrase_env))

    # ------------------------------------------------------------ client side
    def create_agent(self, name: str, display: str = "", *, passphrase: bytes | None):
        """Make `name`'s key pair in the keyring (protected by `passphrase`; None: a development
        key) and register its public key. A key the keyring already holds for `name` (made by
        `dsc agent keygen`, or left by a crash before registering) is registered instead."""
        if self.ctx.store.get_agent(name) is not None:
            raise agents.EscrowRefusal("agent_exists", f"agent {name!r} is already registered with this escrow")
        if self.keyring.has(name):
            key = self.keyring.load(name, passphrase)
            self.keyring.ensure_public(name, key)
        else:
            key = self.keyring.create(name, passphrase)
        self._keys[(name, None)] = key
        return agents.register_agent(self.ctx, name, public_pem(key), display)

    def _key(self, agent: str, passphrase_env: str | None = None):
        k = (agent, passphrase_env)
        if k not in self._keys:  # one load (and passphrase prompt) per agent and session
            try:
                self._keys[k] = self.keyring.load(agent, passphrase_env=passphrase_env)
            except KeysError as exc:
                old = self.config.escrow_dir / "keyring" / f"{agent}.pem"
                if self.keyring.has(agent) or not old.exists():
                    raise
                raise KeysError(f"{exc}. An older dsc kept {agent}'s key inside the escrow ({old}); private keys "
                                f"no longer live there: move it to your keyring (mkdir -p {self.keyring.path} && "
                                f"mv {old} {self.keyring.path}/)") from None
        return self._keys[k]

    def sign_as(self, agent: str, action: str, params: dict, passphrase_env: str | None = None):
        """A request for this escrow, signed with `agent`'s key from the keyring."""
        check_pinned_escrow(self.ctx.escrow_id)
        return make_request(agent, self._key(agent, passphrase_env), action, params, escrow=self.ctx.escrow_id)

    def approval_params(self, agent: str, contract_id: str, passphrase_env: str | None = None) -> dict:
        """`agent` signs this escrow's id and the contract identity hash (what an approval is)."""
        check_pinned_escrow(self.ctx.escrow_id)
        return lifecycle.approve_params(self._key(agent, passphrase_env), self.ctx.escrow_id, contract_id)
