"""Executing an approved contract: re-verify, claim, require, compute, ensure, release.

1. In one transaction: the request is verified; the contract must be approved and not
   claimed by another execution (refused before anything is read); its facts are derived
   from the stored proposal bound to its identity and from the signed log, never from the
   row's columns (`facts.py`): the agent must be a recipient (or, for a contract that only
   keeps its result, the proposer); every approval is re-verified as a signature over the
   identity (hand approvals by the key the agent's `agent_created` entry binds, policy
   approvals by the escrow key *and* the owner's current policy); then the execution
   claims the contract (`approved` -> `running`) and is recorded, with what it may read.
2. Every `require` is evaluated; if one fails, nothing runs.
3. The function runs in the executor; every data read is recorded; a read outside the
   contract short-circuits the run and nothing is released.
4. Every `ensure` is evaluated on the result.
5. The result is staged (complete, fsync'd) outside the recipients' outboxes (under no_trust
   sealed for each recipient's key: `runtime.crypto.results`); in one transaction the
   releases are recorded with each file's hash, and/or the result is kept as a derived data
   element with its provenance, the app state is written, everything audited; then the
   staged files are renamed into the outboxes (`recovery.py`: a crash leaves both or neither).

Progress: `execute(..., progress=callback)` calls `callback(stage)` as each stage begins, with
a stage of `STAGES` ("verifying", "require", "compute", "ensure", "release"; a stage without
conditions or without a result to release is skipped). Only the stage's name is passed: no
data. A failing callback is ignored (it cannot change the execution).

Nothing in a report, in `dsc status` or in the audit log carries data before release: a
failure is described by type and place (`executors/failure.py`), a compared value by type and
shape unless a built-in computed it (`contracts/conditions.py`), a short-circuit names the kind
of access refused, never a key or a text the function chose.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

from datastation.contracts import policy as pol
from datastation.contracts import functions as fn
from datastation.contracts import release as rel
from datastation.contracts.conditions import ConditionError, ConditionResult, Evaluator
from datastation.contracts.model import Scenario, walk
from datastation.contracts.provenance import owner_of
from datastation.contracts.status import ENDED_WITHOUT_RELEASE, ContractStatus
from datastation.dsl import ir
from datastation.stdlib.serialize import EXTENSIONS

from ..app_state import AppState
from ..crashpoints import crash_point
from ..crypto.codec import decrypt_to_path
from ..crypto.results import seal_result
from ..crypto.stream import CryptoError
from ..executors import executor_for
from ..executors.base import OK, SHORT_CIRCUIT, DataArg, ExecutionJob, FunctionRef, ListArg, ValueArg
from ..executors.loader import LoadError, load_value_cached
from ..keys import approval_message, load_public_key, verify
from ..storage import StorageError, sha256_hex
from ..store import DataRow, ExecutionRow, KeptRow, ReleaseRow
from . import recovery
from .actions import EXECUTE, STAGES
from .bundle import BUNDLE_ROOT
from .context import EscrowRefusal, data_about, release_about, signed_action
from .decisions import Entry
from .facts import DERIVED_OWNER, ContractFacts, agent_key, bound_policy, contract_facts, logged_consent
from .lifecycle import attempt_of, contract_row, not_yours, party_contract

EXECUTED, FAILED = ContractStatus.EXECUTED, ContractStatus.FAILED
SHORT_CIRCUITED, ERRORED = ContractStatus.SHORT_CIRCUITED, ContractStatus.ERRORED
APPROVED, RUNNING = ContractStatus.APPROVED, ContractStatus.RUNNING
INTERRUPTED = recovery.INTERRUPTED  # an execution stopped by Ctrl-C: the contract may run again

__all__ = ["DERIVED_OWNER", "SEALED_SUFFIX", "STAGES", "ExecutionInterrupted", "ExecutionReport", "execute",
           "release_facts"]

READ_OUTSIDE = "read of a data element outside the contract"  # a short-circuit names no key
SEALED_SUFFIX = ".sealed"  # outbox files sealed for their recipient (no_trust)


@dataclass
class ExecutionReport:
    contract_id: str
    name: str
    status: str  # lifecycle.EXECUTED | FAILED | SHORT_CIRCUITED | ERRORED
    conditions: list[ConditionResult] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    releases: list[tuple[str, str]] = field(default_factory=list)  # (recipient, outbox path)
    kept: str | None = None
    kind: str | None = None
    error: str | None = None
    blocked: str | None = None  # what a short-circuit refused, in words
    execution_id: int | None = None  # the escrow's id of the execution (global)
    number: int | None = None  # the contract's own count: 1 for its first execution
    attempt: int = 1  # the attempt of the contract it ran for
    seconds: float = 0.0

    def without_values(self) -> "ExecutionReport":
        """This report with the values conditions compared dropped (in place; returns self)."""
        for c in self.conditions:
            c.comparisons = []
        return self

    @property
    def failed_condition(self) -> ConditionResult | None:
        return next((c for c in self.conditions if not c.held), None)

    def to_json(self, values: bool = False) -> dict:
        """Without `values` (the default) the values conditions compared are left out (what is
        stored and shown to a party: they may describe other owners' data); `dsc run` shows them."""
        return {
            "contract": self.contract_id,
            "name": self.name,
            "status": self.status,
            "conditions": [c.to_json(values) for c in self.conditions],
            "reads": self.reads,
            "releases": [{"recipient": r, "path": p} for r, p in self.releases],
            "kept": self.kept,
            "kind": self.kind,
            "error": self.error,
            "blocked": self.blocked,
            "number": self.number,
            "attempt": self.attempt,
            "seconds": round(self.seconds, 6),
        }


def release_facts(ctx, row, facts: ContractFacts | None = None) -> rel.ReleaseFacts:
    """The release facts of a stored contract: its source agents and recipients as derived from
    the approved proposal (`facts.py`), and the approvals whose signatures verify."""
    facts = facts or contract_facts(ctx, row, need_data=False)
    bits = rel.AgentBits(facts.source_agents)
    approved = 0
    consent = logged_consent(ctx, row.id)  # an approval row counts only while its signed entries stand
    for a in ctx.store.approvals(row.id):
        if a.agent in facts.source_agents and a.agent in consent and _approval_valid(ctx, facts, a):
            approved |= bits.bit(a.agent)
    return rel.ReleaseFacts(
        required=bits.mask(facts.source_agents),
        approved=approved,
        recipients=frozenset(facts.recipients),
        denied=row.status == ContractStatus.DENIED,
        rejected=row.status == ContractStatus.REJECTED,
        revoked=row.status == ContractStatus.REVOKED,
    )


@functools.lru_cache(maxsize=1024)
def _public_key(pem: str):
    """Parsed public keys (parsing PEM costs more than verifying a signature)."""
    return load_public_key(pem)


def _approval_valid(ctx, facts: ContractFacts, a) -> bool:
    row = facts.row
    if a.via_policy:
        if not verify(_public_key(ctx.escrow_public_pem), approval_message(ctx.escrow_id, row.id), a.signature):
            return False
        rules = bound_policy(ctx, a.agent)
        if rules is None:  # the policies table no longer holds what the owner applied
            return False
        return pol.decide(a.agent, rules, facts.policy_facts()).effect == pol.ALLOW
    pem = agent_key(ctx, a.agent)
    return pem is not None and verify(_public_key(pem), approval_message(ctx.escrow_id, row.id), a.signature)


PROBE = None  # benchmarks: called with "verified" (request checked), "refused" or "decided" (verdict) and
# "checked" (a go-ahead confirmed from the store and checked in full: about to claim and run)


def _running_refusal(name: str, status: str, released: bool) -> EscrowRefusal | None:
    # Claimed or finished: refused on the status alone, before anything is derived or read.
    if status == RUNNING:
        return EscrowRefusal("already_running", f"contract {name} is being executed: one execution only")
    if status == EXECUTED or released:
        return EscrowRefusal("already_executed", f"contract {name} was already executed")
    return None


def _refuse_running(name: str, status: str, released: bool) -> None:
    refusal = _running_refusal(name, status, released)
    if refusal is not None:
        raise refusal


def _build_entry(ctx, cid: str, built: list) -> Entry:
    """An index entry by the full derivation (`facts.py`, approvals re-verified); the facts are
    kept in `built` for a run decided in the same call."""
    row = contract_row(ctx, cid)
    facts = contract_facts(ctx, row)
    bits = rel.AgentBits(facts.source_agents)
    unbound = next((r for r in facts.recipients if agent_key(ctx, r) is None), None)
    approvals = release_facts(ctx, row, facts)
    built.append(facts)
    return Entry(name=row.name, parties=frozenset(row.parties), proposer=facts.proposer,
                 recipients=frozenset(facts.recipients),
                 source_agents=facts.source_agents, bits=bits, required=approvals.required,
                 approved=approvals.approved, unbound=unbound)


_ENDED = frozenset(str(s.value) for s in ENDED_WITHOUT_RELEASE)  # plain strings: compared on every decision
_BLOCKED = {"denied": rel.DENIED, "rejected": rel.REJECTED, "revoked": rel.REVOKED}


FROM_MEMORY = object()  # `decide`'s go-ahead from the index alone: confirmed before anything runs


def decide(ctx, cid, agent: str):
    """The release decision on an execute request by `agent` (already authenticated), from the
    verified index (`decisions.py`): a refusal, or the go-ahead. The verdict is
    `contracts.release.may_execute` on the entry's bitmasks and the contract's status.

    With the contract's entry and status in memory (and nothing of this process's own pending)
    no statement is run: a go-ahead returns `FROM_MEMORY` (never final: `_verify_before_run`
    decides again from the store and checks in full), a refusal is returned only if the
    committed log head is still the one the index reflects (else the index is synced and the
    decision taken again). Otherwise the decision reads the store (`decide_in_store`)."""
    index = ctx.decisions
    e = index.entries.get(cid) if isinstance(cid, str) and index.quiet else None
    if e is None or e.status is None:
        return decide_in_store(ctx, cid, agent)
    refusal = _refusal(cid, e, e.status, e.released, agent)
    if refusal is not None:
        others = ctx.store.others_commits()
        if others is not None and others == index.others_commits:
            raise refusal  # no one else committed since the head below was seen, and this process's
            # own effective entries would have made the index unquiet: the refusal holds
        head = ctx.store.audit_head()
        # `others` was read before the head: a commit in between changes it again, for next time
        if head is not None and head[:2] == index.head:
            index.others_commits = others
            raise refusal  # nothing was committed since the memory reflects: the refusal holds
        index.sync(ctx.store, head[:2] if head else None)
        index.others_commits = others  # the index reflects the head read after `others`
        e = index.entries.get(cid) if index.quiet else None
        if e is None or e.status is None:
            return decide_in_store(ctx, cid, agent)
        _verdict(cid, e, e.status, e.released, agent)  # the entry survived the sync: nothing changed for it
    return FROM_MEMORY


def decide_in_store(ctx, cid, agent: str) -> ContractFacts | None:
    """The decision from the store's row (status, released, log head read in one statement, the
    index synced to that head): a refusal, or the go-ahead (with the facts when they were derived
    in this very call, else None)."""
    state = ctx.store.decision_state(cid) if isinstance(cid, str) else None
    if state is None:
        raise not_yours(cid, agent)
    name, status, released, head = state
    if head != ctx.decisions.head:
        ctx.decisions.sync(ctx.store, head)
    e = ctx.decisions.entries.get(cid)
    # an outsider is answered before anything is derived: a derivation's refusal (a kept input not
    # there yet, data removed) would tell it the contract exists and name its data (red team H42)
    if agent not in (e.parties if e is not None else party_contract(ctx, cid, agent).parties):
        raise not_yours(cid, agent)
    if status == "running" or status == "executed" or released:
        if e is not None:
            e.status, e.released = status, released
        _refuse_running(name, status, released)
    built: list = []
    e = _entry_at(ctx, cid, status, released, built)
    _verdict(cid, e, status, released, agent)
    return built[0] if built else None


def _entry_at(ctx, cid: str, status: str, released: bool, built: list) -> Entry:
    """Contract `cid`'s index entry (built by the full derivation if the index has none: its facts
    go to `built`), with the status and release the store holds at the index's head."""
    e = ctx.decisions.entry(cid, lambda: _build_entry(ctx, cid, built))
    e.status, e.released = status, released
    return e


def warm(ctx, cid: str) -> bool:
    """Build contract `cid`'s index entry as its first decision would (facts derived, every
    approval's signature verified), deciding nothing; False when the derivation refuses (nothing
    is cached: an execute request meets the refusal, audited, as before). Reads one snapshot of the
    store: other processes' writers are not kept waiting."""
    with ctx.store.snapshot():
        state = ctx.store.decision_state(cid)
        if state is None:
            return False
        _name, status, released, head = state
        if head != ctx.decisions.head:
            ctx.decisions.sync(ctx.store, head)
        try:
            _entry_at(ctx, cid, status, released, [])
        except EscrowRefusal:
            return False
        return True


def _refusal(cid: str, e: Entry, status: str, released: bool, agent: str) -> EscrowRefusal | None:
    """The refusal the decision reaches for `agent` on entry `e` with `status`, or None (the
    go-ahead). Returned, not raised: the caller raises it once."""
    if agent not in e.parties:
        return not_yours(cid, agent)
    if status == "running" or status == "executed" or released:
        return _running_refusal(e.name, status, released)
    if not (agent in e.recipients if e.recipients else agent == e.proposer):
        who = ", ".join(sorted(e.recipients)) if e.recipients else e.proposer
        return EscrowRefusal("not_recipient", f"{agent} may not execute contract {e.name}: only {who} may")
    if status in _ENDED:
        return EscrowRefusal("closed", f"contract {e.name} already ran and ended {status}: propose it again")
    if e.unbound is not None:  # a result goes (sealed, under no_trust) to the key the log binds to them
        return EscrowRefusal("unknown_agent", f"recipient {e.unbound} of contract {e.name} has no registered key "
                                              f"this escrow's log vouches for")
    blocked = _BLOCKED.get(status)  # the order of `may_execute`: denied, rejected, revoked, awaiting
    verdict = blocked or (rel.AWAITING if e.required & ~e.approved else rel.RELEASE)
    if verdict == rel.AWAITING:
        return EscrowRefusal("awaiting_approval", e.awaiting_message())
    if verdict != rel.RELEASE:
        return EscrowRefusal(verdict.replace(" ", "_"), f"contract {e.name} is {status}: it cannot run")
    if status != "approved":
        return EscrowRefusal("not_approved", f"contract {e.name} is {status}: it cannot run")
    return None


def _verdict(cid: str, e: Entry, status: str, released: bool, agent: str) -> None:
    """Raise the refusal the decision reaches (`_refusal`), if any."""
    refusal = _refusal(cid, e, status, released, agent)
    if refusal is not None:
        raise refusal


def _verify_before_run(ctx, cid, agent: str) -> tuple:
    """(row, scenario, facts) of a contract the index decided may run. A go-ahead from memory is
    decided again from the store; decided from an entry built earlier, the facts are derived and
    checked again in full before anything runs."""
    try:
        facts = decide(ctx, cid, agent)
    except EscrowRefusal:
        if PROBE is not None:
            PROBE("refused")
        raise
    if PROBE is not None:
        PROBE("decided")
    if facts is FROM_MEMORY:
        facts = decide_in_store(ctx, cid, agent)  # another process's change refused with its own code
    row = contract_row(ctx, cid)
    if facts is None:
        facts = _check_in_full(ctx, row, agent)
    if PROBE is not None:
        PROBE("checked")
    scenario = Scenario(program=ir.Program(decls=()), base_dir=BUNDLE_ROOT)
    # the agents a condition can name: the bare names of the contract that are registered agents
    contract = facts.contract
    exprs = ([contract.call] if contract.call else []) + list(contract.requires) + list(contract.ensures)
    names = {n.id for e in exprs for n, _ in walk(e) if isinstance(n, ir.Name)}
    names |= set(facts.source_agents) | set(facts.recipients)
    scenario.agents = {n: None for n in sorted(names) if ctx.store.get_agent(n) is not None}
    scenario.kept = {k: None for k in facts.inputs if "." not in k}
    return row, scenario, facts


def _check_in_full(ctx, row, agent: str) -> ContractFacts:
    """The checks of the decision, from the stored proposal and the signed log again."""
    _refuse_running(row.name, row.status, bool(ctx.store.releases(contract_id=row.id)))
    facts = contract_facts(ctx, row)
    may_run = agent in facts.recipients if facts.recipients else agent == facts.proposer
    for r in facts.recipients:
        if agent_key(ctx, r) is None:
            may_run = False
    approvals = release_facts(ctx, row, facts)
    if not may_run or rel.may_execute(approvals) != rel.RELEASE or row.status != APPROVED:
        raise EscrowRefusal("record_tampered", f"the records of contract {row.name} changed since they were "
                                               f"verified: it cannot run")
    return facts


def _reporter(progress):
    """`progress` made safe to call: its errors are ignored, never the execution's."""
    def report(stage: str) -> None:
        if progress is not None:
            try:
                progress(stage)
            except Exception:  # noqa: BLE001 - a display problem must not change the execution
                pass
    return report


def execute(ctx, request, executor=None, progress=None) -> ExecutionReport:
    """Execute an approved contract (see the module docstring); `progress(stage)` is told each
    stage of `STAGES` as it begins."""
    executor = executor or executor_for(ctx.config)
    stage = _reporter(progress)
    stage("verifying")
    cid = request.params.get("contract")
    start = time.perf_counter()
    held: list[recovery.RunLock] = []

    def begin(agent: str):
        if PROBE is not None:
            PROBE("verified")
        row, scenario, facts = _verify_before_run(ctx, cid, agent)
        lock = recovery.RunLock.try_acquire(ctx.config, row.id)
        if lock is None:
            raise EscrowRefusal("already_running", f"contract {row.name} is being executed: one execution only")
        held.append(lock)
        if not ctx.store.swap_contract_status(row.id, APPROVED, RUNNING):
            raise EscrowRefusal("already_running", f"contract {row.name} is being executed: one execution only")
        crash_point("execute.claimed")
        attempt = attempt_of(row)
        eid = ctx.store.add_execution(ExecutionRow(contract_id=row.id, actor=agent, started=time.time(),
                                                   detail={"attempt": attempt}))
        number = len(ctx.store.executions(row.id))  # per contract: "execution #1" is its first run
        ctx.audit.append("execution", actor=agent, contract=row.id, payload={
            "phase": "start", "execution": eid, "number": number, "attempt": attempt,
            "recipients": list(facts.recipients),
            "source_agents": list(facts.source_agents), "source_data": list(facts.source_data),
            "inputs": {k: ctx.mac(d.content_hash, about=data_about(k)) for k, d in sorted(facts.data.items())},
            "kept_inputs": {k: o.contract_id for k, o in sorted(facts.kept.items())}})
        return agent, row, scenario, facts, (eid, number, attempt)

    try:
        agent, row, scenario, facts, (eid, number, attempt) = signed_action(
            ctx, request, EXECUTE, begin, contract=cid if isinstance(cid, str) else None)
        crash_point("execute.started")
        report = ExecutionReport(row.id, row.name, ERRORED, execution_id=eid, number=number, attempt=attempt)
        state = AppState(f"contract:{row.id}", ctx.store, ctx.storage.codec)
        runner = _Runner(ctx, row, scenario, executor, agent, state, report, facts, stage)
        try:
            try:
                runner.run(facts.contract)  # user code's own failures (any BaseException) are outcomes
            finally:
                report.seconds = time.perf_counter() - start
            runner.finish()
        except BaseException as exc:  # Ctrl-C or another signal in the escrow's own process
            if runner.stopped(exc):
                raise ExecutionInterrupted(report) from None
            raise
    finally:
        for lock in held:
            lock.release()
    report.seconds = time.perf_counter() - start
    return report


class ExecutionInterrupted(KeyboardInterrupt):
    """The escrow's process was interrupted (Ctrl-C) while it executed a contract: the execution
    is recorded as interrupted, nothing was released, and the contract may be executed again."""

    def __init__(self, report: ExecutionReport):
        super().__init__(f"execution of contract {report.name} interrupted")
        self.report = report


class _ShortCircuit(Exception):
    def __init__(self, key: str | None, blocked: str | None = None):
        super().__init__(key or blocked)
        self.key, self.blocked = key, blocked


class _Runner:
    def __init__(self, ctx, row, scenario, executor, agent, state, report, facts: ContractFacts, stage=None):
        self.ctx, self.row, self.scenario = ctx, row, scenario
        self.stage = stage or _reporter(None)
        self.executor, self.agent, self.state, self.report = executor, agent, state, report
        self.facts = facts
        self.inputs = frozenset(facts.inputs)
        self.values: dict = {}
        self.rows: dict = dict(facts.data)  # the rows bound to the log, never read again
        self.result = None
        self.outcome = None
        self.phase = "require"
        self.refused: str | None = None  # first key read outside the contract, if any

    # -- reads -------------------------------------------------------------------------
    def _authorize(self, key: str):
        """The row of a DE the contract may read; a key outside it short-circuits the run.

        The refusal is remembered too, so it stops the run even when an executor turns the
        exception raised inside its callback into an ordinary failure."""
        if key not in self.inputs or key not in self.rows:
            self.refused = self.refused or key
            raise _ShortCircuit(key)
        return self.rows[key]

    def _record_read(self, key: str, d) -> None:
        self.ctx.audit.append("data_read", actor=self.agent, contract=self.row.id,
                              payload={"key": key, "phase": self.phase, "content_mac": self.ctx.mac(d.content_hash, about=data_about(key)),
                                       "execution": self.report.execution_id})
        if key not in self.report.reads:
            self.report.reads.append(key)

    def read_bytes(self, key: str) -> bytes:
        d = self._authorize(key)
        data = self.ctx.storage.get(d.owner, d.content_hash)
        self._record_read(key, d)
        return data

    def read_into(self, key: str, path: Path) -> None:
        """`read_bytes` straight to a file: decrypted chunk by chunk (no_trust) or copied, hash checked."""
        d = self._authorize(key)
        storage = self.ctx.storage
        src = storage.path_for(d.owner, d.content_hash)
        if not src.is_file():
            raise StorageError(f"contents {d.content_hash[:12]} of {d.owner} are missing from storage ({src})")
        try:
            decrypt_to_path(storage.codec, src, path, d.owner, d.content_hash)
        except Exception as exc:  # wrong key, tampering, I/O: nothing staged (decrypt_to_path cleans up)
            raise StorageError(f"contents {d.content_hash[:12]} of {d.owner} cannot be decoded: {exc}") from None
        self._record_read(key, d)

    def load(self, key: str):
        if key not in self.values:
            data = self.read_bytes(key)
            try:
                self.values[key] = load_value_cached(data, _format(self.rows[key]), self.rows[key].content_hash)
            except LoadError as exc:  # its message names the format and the error's type, no data
                raise ConditionError(f"{key}: {exc}") from None
        return self.values[key]

    def formats(self) -> dict:
        return {key: _format(d) for key, d in self.rows.items()}

    # -- functions -----------------------------------------------------------------------
    def function_ref(self, name: str):
        """The approved function: a user function as its closure (the text its identity hashes,
        derived from the approved module), never the whole module: top-level code outside the
        closure does not run."""
        info = self.row.meta["functions"].get(name)
        if info is None:
            raise ConditionError(f"function '{name}' is not part of the approved contract")
        src, line_map = None, ()
        if info["origin"] == "user":
            found = _closure(self.row.meta["bundle"]["modules"].get(info["module"]), info["module"], name,
                             info["sha256"])
            src, line_map = found.closure, found.line_map
        return FunctionRef(name=name, origin=info["origin"], source_hash=info["sha256"],
                           module_name=info["module"], module_source=src, line_map=line_map)

    def job(self, name: str, args, kwargs, allowed, phase: str):
        return ExecutionJob(
            contract_id=self.row.id, contract_name=self.row.name, function=self.function_ref(name),
            args=tuple(args), kwargs=tuple(kwargs.items()) if isinstance(kwargs, dict) else tuple(kwargs),
            allowed=frozenset(allowed), formats=self.formats(), read=self.read_bytes, read_into=self.read_into,
            state=self.state, phase=phase,
            content_hashes={k: d.content_hash for k, d in self.rows.items()},
            timeout_seconds=getattr(getattr(self.ctx.config, "docker", None), "timeout_seconds", None),
        )

    def call(self, name: str, args: list, kwargs: dict):
        """A function called inside a condition (values already evaluated)."""
        out = self.executor.run(self.job(name, args, kwargs, self.facts.inputs, self.phase))
        if self.refused:
            raise _ShortCircuit(self.refused)
        if out.status == SHORT_CIRCUIT:
            raise _ShortCircuit(out.forbidden_key, out.blocked)
        if out.status != OK:
            raise ConditionError(out.error or f"{name} failed ({out.status})")
        return out.result_value()

    def to_arg(self, expr, ev: Evaluator):
        key = self.scenario.data_ref(expr, {})
        if key is not None:
            return DataArg(key)
        if isinstance(expr, ir.ListExpr):
            return ListArg(tuple(self.to_arg(i, ev) for i in expr.items))
        return ValueArg(ev.eval(expr, {}, {}))

    # -- the run -------------------------------------------------------------------------
    def evaluator(self) -> Evaluator:
        kept = [k for k in self.facts.inputs if "." not in k]
        builtins = [n for n, f in self.row.meta.get("functions", {}).items() if f.get("origin") == "stdlib"]
        return Evaluator(self.scenario.agents, self.load, self.call, kept, builtins=builtins)

    def conditions(self, exprs, kind: str, **kw) -> bool:
        self.phase = kind
        if exprs:
            self.stage(kind)
        ev = self.evaluator()
        lines = self.row.meta.get("condition_lines", {}).get(kind, [])
        for i, e in enumerate(exprs, start=1):
            res = ev.check(e, kind, i, **kw)  # a short-circuit inside a condition propagates
            if i <= len(lines):
                res.line = lines[i - 1]  # the rebuilt IR has no spans: lines recorded at proposal
            self.report.conditions.append(res)
            self.ctx.audit.append("condition", actor=self.agent, contract=self.row.id,
                                  payload={"kind": kind, "index": i, "line": res.line, "condition": res.text,
                                           "held": res.held,
                                           "error": res.error})
            if not res.held:
                return False
        return True

    def run(self, contract: ir.Contract) -> None:
        rep = self.report
        try:
            if not self.conditions(contract.requires, "require"):
                rep.status, rep.error = FAILED, "a require did not hold: nothing ran"
                return
            self.phase = "compute"
            self.stage("compute")
            ev = self.evaluator()
            call = contract.call
            args = [self.to_arg(a, ev) for a in call.args]
            kwargs = {k.name.name: self.to_arg(k.value, ev) for k in call.kwargs}
            allowed = self.facts.call_inputs
            out = self.executor.run(self.job(call.func.name, args, kwargs, allowed, "compute"))
            self.outcome = out
            for k in out.reads:
                if k not in rep.reads:
                    rep.reads.append(k)
            if self.refused:
                raise _ShortCircuit(self.refused)
            if out.status == SHORT_CIRCUIT:
                raise _ShortCircuit(out.forbidden_key, out.blocked)
            if out.status != OK:
                rep.status, rep.error = ERRORED, out.error or out.status
                return
            rep.kind = out.kind
            self.result = out.result_value()
            if not self.conditions(contract.ensures, "ensure", result=self.result, with_result=True):
                rep.status, rep.error = FAILED, "an ensure did not hold: nothing was released"
                return
            rep.status = EXECUTED
        except _ShortCircuit as exc:
            what = self._refused_words(exc)
            rep.status, rep.blocked = SHORT_CIRCUITED, what
            rep.error = f"{what}: stopped at once, nothing released"
            self.ctx.audit.append("short_circuit", actor=self.agent, contract=self.row.id,
                                  payload={"blocked": what, "phase": self.phase})
        except ConditionError as exc:  # a compute argument that could not be evaluated
            rep.status, rep.error = ERRORED, str(exc)
        except Exception as exc:  # storage or data problems: recorded, never a traceback
            rep.status, rep.error = ERRORED, _escrow_error(exc)

    @staticmethod
    def _refused_words(exc: _ShortCircuit) -> str:
        """What was refused, in fixed words: a read outside the contract never names the key (which
        one the function asked for, registered or not, is its choice, and so may be data)."""
        from ..executors.failure import describe_blocked

        if exc.key is not None or exc.blocked == describe_blocked("data"):
            return READ_OUTSIDE
        return f"{exc.blocked or 'an access outside the contract'} refused"

    def sealed(self, recipient: str) -> bytes:
        """The outbox bytes for `recipient`: sealed for their registered key under no_trust, else plain."""
        if self.ctx.config.trust_mode != "no_trust":
            return self.outcome.data
        pem = agent_key(self.ctx, recipient)  # the key the log binds to the recipient, not the row's
        if pem is None:
            raise ValueError(f"recipient {recipient} has no registered key this escrow's log vouches for")
        return seal_result(self.ctx.config, recipient, self.outcome.data, pem)

    def finish(self) -> None:
        """Stage the result, record the release or the failure in one transaction, then publish."""
        rep, ctx = self.report, self.ctx
        if rep.status == EXECUTED:
            self.stage("release")
        staged = self._stage() if rep.status == EXECUTED else []
        try:
            with contextlib.ExitStack() as stack:
                kept_hash = None
                if rep.status == EXECUTED and self.facts.kept_as:
                    stack.enter_context(ctx.storage.writing())  # until the commit: not collected
                    kept_hash = ctx.storage.put(self.outcome.data, DERIVED_OWNER)
                crash_point("execute.files_written")
                published = self._record(staged, kept_hash)
        except BaseException:
            recovery.discard_pending(ctx.config, rep.execution_id)
            raise
        crash_point("execute.committed")
        for _, final, file_hash in (staged if published else []):
            recovery.publish(ctx.config, rep.execution_id, final, file_hash)
            crash_point("execute.published")
        recovery.discard_pending(ctx.config, rep.execution_id)

    def stopped(self, exc: BaseException) -> bool:
        """Record an execution stopped from outside (a KeyboardInterrupt or another BaseException
        raised in the escrow's process, not by user code): nothing is released; interrupted, the
        contract returns to `approved` (the claim is released: it may be executed again);
        stopped otherwise, it ends `error`. True when recorded as interrupted. If the end was
        already committed, or recording fails, nothing changes here (recovery settles a run
        left `running` when the escrow is next opened)."""
        rep, ctx, row = self.report, self.ctx, self.row
        interrupted = isinstance(exc, KeyboardInterrupt)
        rep.releases, rep.kept = [], None
        rep.status = INTERRUPTED if interrupted else ERRORED
        rep.error = ("interrupted: nothing released" if interrupted
                     else f"the escrow was stopped ({type(exc).__name__}): nothing released")
        try:
            with ctx.store.transaction():
                current = ctx.store.get_execution(rep.execution_id)
                if current is None or current.status != "running":
                    return False
                self.state.discard()
                ctx.store.finish_execution(rep.execution_id, rep.status, rep.to_json(values=False), time.time())
                if not ctx.store.swap_contract_status(row.id, RUNNING, APPROVED if interrupted else ERRORED):
                    return False
                ctx.audit.append("execution", actor=self.agent, contract=row.id,
                                 payload={"phase": "end", "execution": rep.execution_id, "status": rep.status,
                                          "error": rep.error, "reads": rep.reads})
        except Exception:  # noqa: BLE001 - left `running`: recovery settles it at the next open
            return False
        finally:
            recovery.discard_pending(ctx.config, rep.execution_id)
        return interrupted

    def _stage(self) -> list[tuple[str, Path, str]]:
        """(recipient, outbox path, file hash) of each staged copy: written complete under the
        pending folder, none visible in an outbox yet. Sealing failing ends the run ERRORED."""
        rep, ctx, row = self.report, self.ctx, self.row
        crash_point("execute.before_release")
        ext = _extension(self.outcome.kind)
        if ctx.config.trust_mode == "no_trust":
            ext += SEALED_SUFFIX  # not readable as-is: `dsc keys decrypt FILE --as RECIPIENT`
        finals = [(r, Path(ctx.config.outbox_path) / r / f"{row.name}-{row.id[:8]}{ext}") for r in self.facts.recipients]
        try:  # no_trust: each copy sealed for its recipient (only their private key opens it)
            blobs = [self.sealed(r) for r, _ in finals]
        except Exception as exc:
            rep.status, rep.error = ERRORED, f"cannot seal the result: {exc}"
            return []
        out = []
        for (r, final), blob in zip(finals, blobs):
            recovery.stage(ctx.config, rep.execution_id, final, blob)
            out.append((r, final, sha256_hex(blob)))
        return out

    def _record(self, staged, kept_hash: str | None) -> bool:
        """The one transaction that ends the execution; True when its releases were recorded."""
        rep, ctx, row = self.report, self.ctx, self.row
        with ctx.store.transaction():
            current = ctx.store.get_contract(row.id)
            if current.status != RUNNING:  # not ours any more (the record was changed): release nothing
                ctx.store.finish_execution(rep.execution_id, "superseded", {"status": current.status, "attempt": rep.attempt},
                                           time.time())
                rep.status, rep.error, rep.releases = ERRORED, f"contract became {current.status} meanwhile", []
                return False
            if rep.status == EXECUTED:
                self._record_release(staged, kept_hash)
            detail = rep.to_json(values=False)
            if rep.status == EXECUTED:  # app state is data: kept only with a release
                self.state.commit(ctx.store, ctx.audit, actor=self.agent, contract=row.id,
                                  mac=lambda h: ctx.mac(h, about=f"app state {row.id}"))
            else:
                self.state.discard()
            ctx.store.finish_execution(rep.execution_id, rep.status, detail, time.time())
            ctx.store.set_contract_status(row.id, rep.status)
            ctx.audit.append("execution", actor=self.agent, contract=row.id,
                             payload={"phase": "end", "execution": rep.execution_id, "status": rep.status,
                                      "error": rep.error, "reads": rep.reads})
            crash_point("execute.commit")
        return rep.status == EXECUTED

    def _record_release(self, staged, kept_hash: str | None) -> None:
        rep, ctx, row = self.report, self.ctx, self.row
        h = sha256_hex(self.outcome.data)
        for r, path, file_hash in staged:
            ctx.store.add_release(ReleaseRow(contract_id=row.id, recipient=r, path=str(path), content_hash=h,
                                             execution_id=rep.execution_id, ts=time.time(), file_hash=file_hash))
            ctx.audit.append("release", actor=self.agent, contract=row.id,
                             payload={"recipient": r, "path": str(path),
                                      "content_mac": ctx.mac(h, about=release_about(row.id, r)),
                                      "file_mac": ctx.mac(file_hash, about=release_about(row.id, r)),
                                      "kind": self.outcome.kind, "execution": rep.execution_id})
            rep.releases.append((r, str(path)))
        if kept_hash is not None:
            name = self.facts.kept_as
            origins = list(self.facts.source_data)
            ctx.store.put_data(DataRow(key=name, owner=DERIVED_OWNER, format=self.outcome.kind,
                                       content_hash=kept_hash, size=len(self.outcome.data), derived=True,
                                       provenance=tuple(origins), created=time.time()))
            ctx.store.put_kept(KeptRow(name=name, contract_id=row.id, data_key=name,
                                       execution_id=rep.execution_id, ts=time.time()))
            ctx.audit.append("kept", actor=self.agent, contract=row.id,
                             payload={"name": name, "content_mac": ctx.mac(kept_hash, about=data_about(name)), "provenance": origins,
                                      "owners": sorted({owner_of(k) for k in origins}),
                                      "execution": rep.execution_id})
            rep.kept = name


def _closure(module_text: str | None, module: str, name: str, sha256: str) -> fn.FunctionSource:
    """The closure of `name` in the approved module text, checked against its identity."""
    found = fn.function_source_in_text(module_text, BUNDLE_ROOT / module, name) if module_text is not None else None
    if found is None or found.sha256 != sha256:
        raise ConditionError(f"function '{name}' does not match the approved source")
    return found


def _escrow_error(exc: Exception) -> str:
    """An error of the escrow's own (storage, keys): its message is the escrow's, without data;
    anything else is named by its type only."""
    if isinstance(exc, (StorageError, CryptoError, EscrowRefusal)):
        return f"{type(exc).__name__}: {exc}"
    return f"the escrow failed ({type(exc).__name__}): nothing released"


def _format(d) -> str:
    return f"result:{d.format}" if d.derived else d.format


def _extension(kind: str | None) -> str:
    return EXTENSIONS.get(kind, ".bin")
