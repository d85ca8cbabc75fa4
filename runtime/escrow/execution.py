"""Executing an approved contract: re-verify, require, compute, ensure, release.

1. In one transaction: the request is verified; the agent must be a recipient (or, for a
   contract that only keeps its result, the proposer); the contract must be approved; every
   approval signature is re-verified (hand approvals against the agent's key, policy
   approvals against the escrow key *and* the owner's current policy); the identity is
   recomputed from the approved bundle (so the function source hash, the bound arguments
   and the inputs are exactly the approved ones); the execution is recorded as running.
2. Every `require` is evaluated; if one fails, nothing runs.
3. The function runs in the executor; every data read is recorded; a read outside the
   contract short-circuits the run and nothing is released.
4. Every `ensure` is evaluated on the result.
5. In one transaction: the result goes to each recipient's outbox (under no_trust sealed for
   that recipient's key: `runtime.crypto.results`) and/or is kept as a derived data element
   with its provenance; the app state is written (only then: nothing released, no state kept);
   everything audited.

Nothing in a report, in `dsc status` or in the audit log carries data before release: a
failure is described by type and place (`executors/failure.py`), a compared value by type and
shape unless a built-in computed it (`contracts/conditions.py`), a short-circuit names a
registered data element or the kind of access refused, never a text the function chose.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from datastation.contracts import policy as pol
from datastation.contracts import release as rel
from datastation.contracts.conditions import ConditionError, ConditionResult, Evaluator
from datastation.contracts import functions as fn
from datastation.contracts.identity import from_canonical, identity_document, identity_of_document
from datastation.contracts.model import Scenario, calls_in, walk
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
from ..storage import StorageError, atomic_write, sha256_hex
from ..store import DataRow, ExecutionRow, KeptRow, ReleaseRow
from .actions import EXECUTE
from .bundle import BUNDLE_ROOT
from .context import EscrowRefusal, signed_action
from .lifecycle import contract_row, rules_from_row

EXECUTED, FAILED = ContractStatus.EXECUTED, ContractStatus.FAILED
SHORT_CIRCUITED, ERRORED = ContractStatus.SHORT_CIRCUITED, ContractStatus.ERRORED

DERIVED_OWNER = "_derived"  # storage folder of kept results (their owners are in the provenance)
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
    forbidden_key: str | None = None  # a registered data element read outside the contract
    blocked: str | None = None  # what a short-circuit refused, in words
    execution_id: int | None = None
    seconds: float = 0.0

    @property
    def failed_condition(self) -> ConditionResult | None:
        return next((c for c in self.conditions if not c.held), None)

    def to_json(self, values: bool = True) -> dict:
        """`values=False` leaves out the values conditions compared (what is stored and shown to
        a recipient: they may describe other owners' data); `dsc run` shows them."""
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
            "forbidden_key": self.forbidden_key,
            "blocked": self.blocked,
            "seconds": round(self.seconds, 6),
        }


def approved_contract(row) -> tuple[ir.Contract | None, str | None]:
    """The contract rebuilt from its stored canonical form, and the identity that recomputes to.

    Function hashes are recomputed from the approved module texts and the current stdlib
    source, so a changed built-in (or a tampered record) gives a different identity.
    """
    try:
        doc = json.loads(row.canonical)
        contract = from_canonical(doc["contract"])
    except (ValueError, KeyError, TypeError):
        return None, None
    modules = row.meta.get("bundle", {}).get("modules", {})
    functions = {}
    exprs = ([contract.call] if contract.call else []) + list(contract.requires) + list(contract.ensures)
    for name in dict.fromkeys(n for e in exprs for n in calls_in(e)):
        info = row.meta.get("functions", {}).get(name)
        if info is None:
            return contract, None
        if info["origin"] == "user":
            text = modules.get(info["module"])
            found = fn.function_source_in_text(text, BUNDLE_ROOT / info["module"], name) if text is not None else None
        else:
            path = fn.stdlib_functions().get(name)
            found = fn.function_source(path, name, "stdlib") if path else None
        if found is None:
            return contract, None
        functions[name] = found
    return contract, identity_of_document(identity_document(contract, functions))


def release_facts(ctx, row) -> rel.ReleaseFacts:
    """The release facts of a stored contract (approvals re-verified)."""
    bits = rel.AgentBits(row.source_agents)
    approved = 0
    for a in ctx.store.approvals(row.id):
        if a.agent in row.source_agents and _approval_valid(ctx, row, a):
            approved |= bits.bit(a.agent)
    return rel.ReleaseFacts(
        required=bits.mask(row.source_agents),
        approved=approved,
        recipients=frozenset(row.recipients),
        denied=row.status == ContractStatus.DENIED,
        rejected=row.status == ContractStatus.REJECTED,
        revoked=row.status == ContractStatus.REVOKED,
    )


@functools.lru_cache(maxsize=1024)
def _public_key(pem: str):
    """Parsed public keys (parsing PEM costs more than verifying a signature)."""
    return load_public_key(pem)


def _approval_valid(ctx, row, a) -> bool:
    if a.via_policy:
        if not verify(_public_key(ctx.escrow_public_pem), approval_message(row.id), a.signature):
            return False
        rules = rules_from_row(ctx.store.get_policy(a.agent))
        facts = pol.ContractFacts(row.meta.get("function", ""), frozenset(row.meta.get("source_data", [])),
                                  frozenset(row.recipients))
        return pol.decide(a.agent, rules, facts).effect == pol.ALLOW
    agent = ctx.store.get_agent(a.agent)
    return agent is not None and verify(_public_key(agent.public_key), approval_message(row.id), a.signature)


def _verify_before_run(ctx, row, agent: str):
    may_run = row.recipients and agent in row.recipients or (not row.recipients and agent == row.proposer)
    if not may_run:
        who = ", ".join(row.recipients) if row.recipients else row.proposer
        raise EscrowRefusal("not_recipient", f"{agent} may not execute contract {row.name}: only {who} may")
    if row.status == EXECUTED or ctx.store.releases(contract_id=row.id):
        raise EscrowRefusal("already_executed", f"contract {row.name} was already executed")
    if row.status in ENDED_WITHOUT_RELEASE:
        raise EscrowRefusal("closed", f"contract {row.name} already ran and ended {row.status}: propose it again")
    facts = release_facts(ctx, row)
    verdict = rel.may_execute(facts)
    if verdict == rel.AWAITING:
        missing = rel.AgentBits(row.source_agents).names(facts.required & ~facts.approved)
        raise EscrowRefusal("awaiting_approval", f"contract {row.name} still needs the approval of "
                                                 f"{', '.join(missing)}")
    if verdict != rel.RELEASE:
        raise EscrowRefusal(verdict.replace(" ", "_"), f"contract {row.name} is {row.status}: it cannot run")
    contract, ident = approved_contract(row)
    if contract is None or ident != row.id:
        raise EscrowRefusal("identity_changed", f"contract {row.name} no longer matches what was approved "
                                                f"(a built-in function changed?): propose it again")
    scenario = Scenario(program=ir.Program(decls=()), base_dir=BUNDLE_ROOT)
    # the agents a condition can name: the bare names of the contract that are registered agents
    exprs = ([contract.call] if contract.call else []) + list(contract.requires) + list(contract.ensures)
    names = {n.id for e in exprs for n, _ in walk(e) if isinstance(n, ir.Name)}
    names |= set(row.source_agents) | set(row.recipients)
    scenario.agents = {n: None for n in sorted(names) if ctx.store.get_agent(n) is not None}
    scenario.kept = {k: None for k in row.inputs if "." not in k}
    for key in row.inputs:
        d = ctx.store.get_data(key)
        if d is None:
            raise EscrowRefusal("no_data", f"input {key} of contract {row.name} is not in the escrow "
                                           f"(was the contract keeping it executed?)")
        origins = set(d.provenance) if d.derived else {key}
        if not origins <= set(row.meta.get("source_data", [])):
            raise EscrowRefusal("provenance_changed", f"{key} comes from data the approvers did not approve")
    return scenario, contract


def execute(ctx, request, executor=None) -> ExecutionReport:
    """Execute an approved contract (see the module docstring)."""
    executor = executor or executor_for(ctx.config)
    cid = request.params.get("contract")
    start = time.perf_counter()

    def begin(agent: str):
        row = contract_row(ctx, cid)
        scenario, contract = _verify_before_run(ctx, row, agent)
        eid = ctx.store.add_execution(ExecutionRow(contract_id=row.id, actor=agent, started=time.time()))
        ctx.audit.append("execution", actor=agent, contract=row.id, payload={"phase": "start", "execution": eid})
        return agent, row, scenario, contract, eid

    agent, row, scenario, contract, eid = signed_action(ctx, request, EXECUTE, begin,
                                                         contract=cid if isinstance(cid, str) else None)
    crash_point("execute.started")
    report = ExecutionReport(row.id, row.name, ERRORED, execution_id=eid)
    state = AppState(f"contract:{row.id}", ctx.store, ctx.storage.codec)
    runner = _Runner(ctx, row, scenario, executor, agent, state, report)
    try:
        runner.run(contract)
    finally:
        report.seconds = time.perf_counter() - start
    runner.finish(contract)
    report.seconds = time.perf_counter() - start
    return report


class _ShortCircuit(Exception):
    def __init__(self, key: str | None, blocked: str | None = None):
        super().__init__(key or blocked)
        self.key, self.blocked = key, blocked


class _Runner:
    def __init__(self, ctx, row, scenario, executor, agent, state, report):
        self.ctx, self.row, self.scenario = ctx, row, scenario
        self.executor, self.agent, self.state, self.report = executor, agent, state, report
        self.values: dict = {}
        self.rows: dict = {}
        self.result = None
        self.outcome = None
        self.phase = "require"
        self.refused: str | None = None  # first key read outside the contract, if any

    # -- reads -------------------------------------------------------------------------
    def _authorize(self, key: str):
        """The row of a DE the contract may read; a key outside it short-circuits the run.

        The refusal is remembered too, so it stops the run even when an executor turns the
        exception raised inside its callback into an ordinary failure."""
        if key not in self.row.inputs:
            self.refused = self.refused or key
            raise _ShortCircuit(key)
        d = self.rows.get(key) or self.ctx.store.get_data(key)
        self.rows[key] = d
        return d

    def _record_read(self, key: str, d) -> None:
        self.ctx.audit.append("data_read", actor=self.agent, contract=self.row.id,
                              payload={"key": key, "phase": self.phase, "content_hash": d.content_hash})
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
        out = {}
        for key in self.row.inputs:
            d = self.rows.get(key) or self.ctx.store.get_data(key)
            self.rows[key] = d
            out[key] = _format(d)
        return out

    # -- functions -----------------------------------------------------------------------
    def function_ref(self, name: str):
        info = self.row.meta["functions"].get(name)
        if info is None:
            raise ConditionError(f"function '{name}' is not part of the approved contract")
        src = None
        if info["origin"] == "user":
            src = self.row.meta["bundle"]["modules"].get(info["module"])
        return FunctionRef(name=name, origin=info["origin"], source_hash=info["sha256"],
                           module_name=info["module"], module_source=src)

    def job(self, name: str, args, kwargs, allowed, phase: str):
        return ExecutionJob(
            contract_id=self.row.id, contract_name=self.row.name, function=self.function_ref(name),
            args=tuple(args), kwargs=tuple(kwargs.items()) if isinstance(kwargs, dict) else tuple(kwargs),
            allowed=frozenset(allowed), formats=self.formats(), read=self.read_bytes, read_into=self.read_into,
            state=self.state, phase=phase,
            content_hashes={k: self.rows[k].content_hash for k in self.row.inputs if self.rows.get(k) is not None},
            timeout_seconds=getattr(getattr(self.ctx.config, "docker", None), "timeout_seconds", None),
        )

    def call(self, name: str, args: list, kwargs: dict):
        """A function called inside a condition (values already evaluated)."""
        out = self.executor.run(self.job(name, args, kwargs, self.row.inputs, self.phase))
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
        kept = [k for k in self.row.inputs if "." not in k]
        builtins = [n for n, f in self.row.meta.get("functions", {}).items() if f.get("origin") == "stdlib"]
        return Evaluator(self.scenario.agents, self.load, self.call, kept, builtins=builtins)

    def conditions(self, exprs, kind: str, **kw) -> bool:
        self.phase = kind
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
            ev = self.evaluator()
            call = contract.call
            args = [self.to_arg(a, ev) for a in call.args]
            kwargs = {k.name.name: self.to_arg(k.value, ev) for k in call.kwargs}
            allowed = self.row.meta.get("call_inputs", list(self.row.inputs))
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
            key, what = self._refused_words(exc)
            rep.status, rep.forbidden_key, rep.blocked = SHORT_CIRCUITED, key, what
            rep.error = f"{what}: stopped at once, nothing released"
            self.ctx.audit.append("short_circuit", actor=self.agent, contract=self.row.id,
                                  payload={"key": key, "blocked": what, "phase": self.phase})
        except ConditionError as exc:  # a compute argument that could not be evaluated
            rep.status, rep.error = ERRORED, str(exc)
        except Exception as exc:  # storage or data problems: recorded, never a traceback
            rep.status, rep.error = ERRORED, _escrow_error(exc)

    def _refused_words(self, exc: _ShortCircuit) -> tuple[str | None, str]:
        """(the key, what was refused): a key is named only if it is a registered data element or
        kept result; any other text the function asked for could be data."""
        key = exc.key if isinstance(exc.key, str) and self.ctx.store.get_data(exc.key) is not None else None
        if key is not None:
            return key, f"read of {key} outside the contract"
        if exc.key is not None:
            return None, "read of an unregistered data element, outside the contract"
        return None, f"{exc.blocked or 'an access outside the contract'} refused"

    def sealed(self, recipient: str) -> bytes:
        """The outbox bytes for `recipient`: sealed for their registered key under no_trust, else plain."""
        if self.ctx.config.trust_mode != "no_trust":
            return self.outcome.data
        agent = self.ctx.store.get_agent(recipient)
        if agent is None:
            raise ValueError(f"recipient {recipient} is not a registered agent")
        return seal_result(self.ctx.config, recipient, self.outcome.data, agent.public_key)

    def finish(self, contract: ir.Contract) -> None:
        """Release or record the failure, in one transaction."""
        rep, ctx, row = self.report, self.ctx, self.row
        outbox_files = []
        if rep.status == EXECUTED and row.recipients:
            ext = _extension(self.outcome.kind)
            if ctx.config.trust_mode == "no_trust":
                ext += SEALED_SUFFIX  # not readable as-is: `dsc keys decrypt FILE --as RECIPIENT`
            for r in row.recipients:
                path = Path(ctx.config.outbox_path) / r / f"{row.name}-{row.id[:8]}{ext}"
                outbox_files.append((r, path))
        crash_point("execute.before_release")
        kept_hash = None
        if rep.status == EXECUTED:
            blobs = []
            try:  # no_trust: each copy sealed for its recipient (only their private key opens it)
                blobs = [self.sealed(r) for r, _ in outbox_files]
            except Exception as exc:
                rep.status, rep.error, outbox_files = ERRORED, f"cannot seal the result: {exc}", []
            for (r, path), blob in zip(outbox_files, blobs):
                atomic_write(path, blob)  # atomic; a crash before commit leaves no release row
        if rep.status == EXECUTED:
            if row.meta.get("kept_as"):
                kept_hash = ctx.storage.put(self.outcome.data, DERIVED_OWNER)
        crash_point("execute.files_written")
        with ctx.store.transaction():
            current = ctx.store.get_contract(row.id)
            if current.status != ContractStatus.APPROVED:  # executed concurrently, or revoked meanwhile
                ctx.store.finish_execution(rep.execution_id, "superseded", {"status": current.status}, time.time())
                rep.status, rep.error, rep.releases = ERRORED, f"contract became {current.status} meanwhile", []
                return
            detail = rep.to_json(values=False)
            if rep.status == EXECUTED:
                h = sha256_hex(self.outcome.data)
                for r, path in outbox_files:
                    ctx.store.add_release(ReleaseRow(contract_id=row.id, recipient=r, path=str(path), content_hash=h,
                                                     execution_id=rep.execution_id, ts=time.time()))
                    ctx.audit.append("release", actor=self.agent, contract=row.id,
                                     payload={"recipient": r, "path": str(path), "content_hash": h,
                                              "kind": self.outcome.kind})
                    rep.releases.append((r, str(path)))
                if kept_hash is not None:
                    name = row.meta["kept_as"]
                    origins = sorted(row.meta.get("source_data", []))
                    ctx.store.put_data(DataRow(key=name, owner=DERIVED_OWNER, format=self.outcome.kind,
                                               content_hash=kept_hash, size=len(self.outcome.data), derived=True,
                                               provenance=tuple(origins), created=time.time()))
                    ctx.store.put_kept(KeptRow(name=name, contract_id=row.id, data_key=name,
                                               execution_id=rep.execution_id, ts=time.time()))
                    ctx.audit.append("kept", actor=self.agent, contract=row.id,
                                     payload={"name": name, "content_hash": kept_hash, "provenance": origins,
                                              "owners": sorted({owner_of(k) for k in origins})})
                    rep.kept = name
                detail = rep.to_json(values=False)
            if rep.status == EXECUTED:  # app state is data: kept only with a release
                self.state.commit(ctx.store, ctx.audit, actor=self.agent, contract=row.id)
            else:
                self.state.discard()
            ctx.store.finish_execution(rep.execution_id, rep.status, detail, time.time())
            ctx.store.set_contract_status(row.id, rep.status)
            ctx.audit.append("execution", actor=self.agent, contract=row.id,
                             payload={"phase": "end", "execution": rep.execution_id, "status": rep.status,
                                      "error": rep.error, "reads": rep.reads})
            crash_point("execute.commit")


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
