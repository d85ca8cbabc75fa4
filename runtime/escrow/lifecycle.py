"""The contract lifecycle inside the escrow: propose, approve, reject, revoke, apply policies.

Every action takes the escrow context and a signed request, and runs through
`context.signed_action`: the signature is verified against the agent's registered key inside
the action's one transaction, and anything not allowed is refused with an `EscrowRefusal`
(stable `code`) after writing a `refusal` audit entry and nothing else.

A proposal carries a *bundle* (`bundle.py`): the .dsc text and the text of every `use`
module. The escrow checks the bundle itself, recomputes the identity and keeps the bundle,
so that execution later runs exactly the approved text, whatever happens to the files on disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datastation.contracts import policy as pol
from datastation.contracts.identity import IdentityError, identity
from datastation.contracts.loading import policy_file
from datastation.contracts.provenance import owner_of
from datastation.contracts.status import ENDED_WITHOUT_RELEASE, MAY_RUN, OPEN, ContractStatus

from ..keys import approval_message, canonical_json, sign, verify
from ..store import ApprovalRow, ContractRow, PolicyRow, RejectionRow
from .actions import APPROVE, APPROVE_MANY, POLICY_APPLY, PROPOSE, PROPOSE_MANY, REJECT, REVOKE
from .bundle import Materialized, checked_bundle, fresh_functions, make_bundle
from .context import EscrowContext, EscrowRefusal, data_about, release_about, signed_action, signed_action_of
from .facts import kept_origin

PENDING, APPROVED, DENIED = ContractStatus.PENDING, ContractStatus.APPROVED, ContractStatus.DENIED
REJECTED, REVOKED, EXECUTED = ContractStatus.REJECTED, ContractStatus.REVOKED, ContractStatus.EXECUTED
#: Where a contract may be proposed again, as a new attempt: it ended without a release.
REPROPOSABLE = ENDED_WITHOUT_RELEASE | {DENIED, REJECTED, REVOKED}


def propose_params(bundle: dict, contract: str, expected_identity: str | None = None) -> dict:
    """Client side: the parameters of a `contract.propose` request."""
    return {"bundle": bundle, "contract": contract, "identity": expected_identity}


def propose_many_params(bundle: dict, contracts: list[str], identities: dict[str, str] | None = None) -> dict:
    """Client side: the parameters of a `contract.propose_many` request (contracts of one bundle)."""
    return {"bundle": bundle, "contracts": [{"contract": c, "identity": (identities or {}).get(c)} for c in contracts]}


def approve_params(key, escrow_id: str, contract_id: str) -> dict:
    """Client side: the approval signature over the escrow's id and the identity hash, made with
    the agent's key (an approval given at one escrow is worth nothing at another)."""
    return {"contract": contract_id, "signature": sign(key, approval_message(escrow_id, contract_id))}


def policy_params(path: str | Path) -> dict:
    """Client side: the parameters of a `policy.apply` request: the owner's policy file and the
    text of every module it `use`s (the functions its policies name are resolved in them)."""
    return make_bundle(path)


def rules_from_row(row: PolicyRow | None) -> list[pol.PolicyRule]:
    """The rules of a registered policy (none when the owner registered none)."""
    return [] if row is None else pol.rules_from_json(row.owner, row.rules)


def policy_facts(ctx, row: ContractRow) -> pol.ContractFacts:
    """What standing policies look at in a stored contract: the identity of every function it
    calls (as recorded at proposal and bound into its identity) and of every function in the
    provenance of its kept inputs (`facts.provenance_functions`), its source data, its recipients."""
    from .facts import provenance_functions

    f = pol.facts_from_record(row.meta.get("functions", {}), row.meta.get("source_data", []), row.recipients)
    chain = provenance_functions(ctx, row.inputs)
    return pol.ContractFacts(functions=f.functions | chain, data=f.data, to=f.to) if chain else f


def _policy_label(rule: pol.PolicyRule) -> str:
    return f"{rule.where()}: {rule.text()}"


def contract_row(ctx: EscrowContext, cid: Any) -> ContractRow:
    """The stored contract with id `cid`, or a `no_contract` refusal."""
    row = ctx.store.get_contract(cid) if isinstance(cid, str) else None
    if row is None:
        raise EscrowRefusal("no_contract", f"no contract with id {cid!r} in this escrow")
    return row


def party_contract(ctx: EscrowContext, cid: Any, agent: str) -> ContractRow:
    """The stored contract with id `cid` if `agent` is party to it (its proposer, a data owner or a
    recipient). Anyone else gets the refusal of an id nothing has (`not_yours`): an outsider who
    holds a contract's id learns neither that it exists nor its name, parties or status."""
    return _party_to(ctx.store.get_contract(cid) if isinstance(cid, str) else None, cid, agent)


def _party_to(row: ContractRow | None, cid: Any, agent: str) -> ContractRow:
    """`row` (the contract `cid` names, if any) if `agent` is party to it; else `not_yours`."""
    if row is None or agent not in row.parties:
        raise not_yours(cid, agent)
    return row


def not_yours(ref: Any, agent: str) -> EscrowRefusal:
    """The one refusal for a contract reference that names no contract `agent` is party to, whether
    another agent's contract has that id or none has."""
    shown = repr(ref if isinstance(ref, str) else str(ref))[:80]
    return EscrowRefusal("no_contract", f"{agent} is party to no contract with the id {shown} in this escrow")


MIN_PREFIX = 4  # an id prefix shorter than this names no contract


def resolve_contract(store, ref: str) -> ContractRow:
    """The contract `ref` names: its full id; its name (the latest proposal of that name); or a
    prefix of its id of at least MIN_PREFIX characters. A reference that names several contracts
    is refused (`ambiguous_contract`) listing them, one that names none `no_contract`."""
    row = store.get_contract(ref)
    if row is not None:
        return row
    found: dict[str, ContractRow] = {}
    named = store.list_contracts(name=ref)
    if named:
        latest = named[-1]  # ordered by creation
        found[latest.id] = latest
    if len(ref) >= MIN_PREFIX:
        for r in store.find_contracts(ref.lower()):
            found.setdefault(r.id, r)
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        short = f" (an id prefix needs at least {MIN_PREFIX} characters)" if len(ref) < MIN_PREFIX else ""
        raise EscrowRefusal("no_contract", f"no contract named {ref!r} and none whose id starts with it in this "
                                           f"escrow{short} (see `dsc contracts`)")
    rows = sorted(found.values(), key=lambda r: (r.created, r.id))
    listed = "\n".join(f"  {r.id[:12]}  {r.name}  {r.status}" for r in rows)
    raise EscrowRefusal("ambiguous_contract", f"{ref!r} names {len(rows)} contracts: give more of the id\n{listed}")


def resolve_id(store, ref: str) -> str:
    """The full id of the contract `ref` names (`resolve_contract`)."""
    return resolve_contract(store, ref).id


def _approved_by(ctx, cid: str) -> dict[str, ApprovalRow]:
    return {a.agent: a for a in ctx.store.approvals(cid)}


def _refresh_status(ctx, row: ContractRow, approved: set[str] | None = None, updated: float | None = None) -> str:
    """pending <-> approved from the recorded approvals (other statuses are left alone). A caller
    that read `row` and its approvals in this transaction and changed nothing else since passes
    the agents that approved it (`approved`), saving the reads; `updated` is the time recorded
    when the status changes (now by default)."""
    current = ctx.store.get_contract(row.id) if approved is None else row
    if current.status not in OPEN:
        return current.status
    if approved is None:
        approved = set(_approved_by(ctx, row.id))
    status = APPROVED if set(current.source_agents) <= approved else PENDING
    if status != current.status:
        ctx.store.set_contract_status(row.id, status, updated=updated)
    return status


@dataclass
class Decided:
    owner: str
    effect: str | None
    rule: str | None


def _apply_policy(ctx, row: ContractRow, owner: str, rules: list[pol.PolicyRule], now: float) -> Decided:
    """Apply `owner`'s standing rules to an open contract (inside the caller's transaction)."""
    d = pol.decide(owner, rules, policy_facts(ctx, row))
    existing = _approved_by(ctx, row.id).get(owner)
    label = _policy_label(d.rule) if d.rule else None
    if d.effect == pol.DENY:
        ctx.store.add_rejection(RejectionRow(contract_id=row.id, agent=owner, reason=f"denied by policy {label}",
                                             via_policy=label, ts=now))
        ctx.store.set_contract_status(row.id, DENIED)
    elif d.effect == pol.ALLOW and existing is None:
        sig = sign(ctx.escrow_key, approval_message(ctx.escrow_id, row.id))
        ctx.store.add_approval(ApprovalRow(contract_id=row.id, agent=owner, signature=sig, via_policy=label, ts=now))
    elif d.effect != pol.ALLOW and existing is not None and existing.via_policy:
        ctx.store.remove_approvals(row.id, owner)  # the policy that approved it no longer does
    else:
        return Decided(owner, None if existing is None else "kept", None)
    ctx.audit.append("policy_decision", actor=owner, contract=row.id,
                     payload={"agent": owner, "effect": d.effect or "withdrawn", "policy": label})
    _refresh_status(ctx, row)
    return Decided(owner, d.effect or "withdrawn", label)


# ---------------------------------------------------------------- propose


@dataclass
class Proposal:
    row: ContractRow
    decisions: list[Decided] = field(default_factory=list)


def _read_once(memo: dict, what: str, key: str, read):
    """`read(key)`, read once per request: the contracts of one request are proposed in its one
    transaction, which proposing them does not change agents, data or policies in."""
    seen = memo.setdefault(what, {})
    if key not in seen:
        seen[key] = read(key)
    return seen[key]


def _escrow_sources(ctx, scenario, contract, memo: dict | None = None) -> tuple[list[str], set[str]]:
    """(inputs, original source data) of a contract, resolved against the escrow's records."""
    memo = {} if memo is None else memo
    inputs = scenario.inputs(contract)
    sources: set[str] = set()
    for key in inputs:
        if "." in key:
            d = _read_once(memo, "data", key, ctx.store.get_data)
            if d is None or d.derived:
                raise EscrowRefusal("no_data", f"data element {key} is not registered in this escrow "
                                               f"(its owner adds it with `dsc data add {key} FILE --as {owner_of(key)}`)")
            sources.add(key)
            continue
        # where the kept result comes from by the escrow's signed records, not by the file at hand
        sources |= set(kept_origin(ctx, key, need_data=False).sources)
    return inputs, sources


def propose(ctx: EscrowContext, request) -> Proposal:
    """Check the bundle, compute the contract's identity and record it; standing policies decide at once."""
    p = request.params
    now = time.time()

    def body(agent: str) -> Proposal:
        m, scenario = _checked_scenario(p.get("bundle"))
        return _propose_one(ctx, m, scenario, p["bundle"], p.get("contract"), p.get("identity"), agent, now, {})

    return signed_action(ctx, request, PROPOSE, body)


MAX_BATCH = 1000  # contracts in one propose_many / approve_many request (one transaction)


def propose_many(ctx: EscrowContext, request) -> list[Proposal]:
    """Propose several contracts of one bundle in one signed request and one transaction: each is
    checked and recorded exactly as `propose` does it (its own proposal entry, its standing
    policies); the bundle is checked and its functions resolved once. All or nothing: the first
    contract refused refuses the request, naming it, and nothing is proposed."""
    p = request.params
    now = time.time()
    items = p.get("contracts")

    def body(agent: str) -> list[Proposal]:
        wanted = _batch(items, "contracts", lambda it: isinstance(it, dict) and isinstance(it.get("contract"), str)
                        and isinstance(it.get("identity"), (str, type(None))), "{contract, identity}")
        names = [it["contract"] for it in wanted]
        if len(set(names)) != len(names):
            raise EscrowRefusal("bad_request", "a contract is named twice in the request: name each once")
        m, scenario = _checked_scenario(p.get("bundle"))
        out, memo = [], {}
        for i, it in enumerate(wanted, start=1):
            with _naming_item(i, len(wanted), it["contract"]):
                out.append(_propose_one(ctx, m, scenario, p["bundle"], it["contract"], it.get("identity"), agent, now,
                                        memo))
        return out

    return signed_action(ctx, request, PROPOSE_MANY, body)


def _batch(items, field_name: str, valid, shape: str) -> list:
    """The items of a batch request, or the `bad_request` refusal (none, too many, malformed)."""
    if not isinstance(items, list) or not items:
        raise EscrowRefusal("bad_request", f"the request names no {field_name} (a list of {shape})")
    if len(items) > MAX_BATCH:
        raise EscrowRefusal("bad_request", f"{len(items)} {field_name} in one request: at most {MAX_BATCH} (send "
                                           f"several requests)")
    for i, it in enumerate(items, start=1):
        if not valid(it):
            raise EscrowRefusal("bad_request", f"item {i} of {field_name} is not a {shape}")
    return items


@contextlib.contextmanager
def _naming_item(i: int, n: int, what: str, contract: str | None = None):
    """A refusal of one item of a batch says which item it was (its code unchanged), and the
    audit entry of the refusal the contract id it named (`contract`), as a single request's does."""
    try:
        yield
    except EscrowRefusal as exc:
        raise EscrowRefusal(exc.code, f"{what} (item {i} of {n}): {exc}; nothing in this request was done",
                            contract=contract) from None


def _checked_scenario(bundle) -> tuple[Materialized, Any]:
    """The checked bundle and its scenario (function identities resolved afresh), or the refusal."""
    m = checked_bundle(bundle)
    if not m.loaded.ok:
        raise EscrowRefusal("check_failed", f"the file has errors, nothing was proposed: {m.first_errors()}")
    return m, fresh_functions(m.loaded.scenario)  # shared by identical bundles (checked once)


def _propose_one(ctx, m: Materialized, scenario, bundle: dict, name, expected, agent: str, now: float,
                 memo: dict) -> Proposal:
    """Record the proposal of contract `name` of a checked bundle by `agent` (inside the action's
    transaction); `memo` holds what the contracts of one request share (the stored bundle's hash)."""
    contract = scenario.contracts.get(name) if isinstance(name, str) else None
    if contract is None:
        raise EscrowRefusal("no_contract", f"no contract {name!r} in {m.file.name}")
    try:
        ident = identity(scenario, contract)
    except IdentityError as exc:
        raise EscrowRefusal("no_identity", str(exc)) from None
    if expected and expected != ident.sha256:
        raise EscrowRefusal("identity_mismatch", "the escrow computes a different identity for this contract "
                                                 "than the proposer did: files changed while proposing?")
    inputs, sources = _check_proposable(ctx, scenario, contract, agent, memo)
    existing = ctx.store.get_contract(ident.sha256)
    if existing is not None:
        return _new_attempt(ctx, existing, agent, sources, now)
    row = _contract_row(m, bundle, scenario, contract, ident, agent, inputs, sources, now)
    if "bundle_sha256" not in memo:  # the stored bundle is the same for every contract of the request
        memo["bundle_sha256"] = ctx.store.put_bundle(canonical_json(row.meta["bundle"]).decode())
    ctx.store.put_contract(row, bundle_ref=memo["bundle_sha256"])
    ctx.audit.append("proposal", actor=agent, contract=row.id,
                     payload={"name": row.name, "proposer": agent, "source_agents": list(row.source_agents),
                              "recipients": list(row.recipients), "inputs": list(row.inputs),
                              "functions": row.function_hashes,
                              **proposal_record(row, bundle_hash=memo["bundle_sha256"])})
    return _apply_policies(ctx, row, now, memo)


def _apply_policies(ctx, row: ContractRow, now: float, memo: dict | None = None) -> Proposal:
    """Standing policies decide for their owners at once (a proposal or a new attempt). `row` is
    the contract as stored in this transaction; it is read again only once a policy acted on it.
    `memo`: what the request read already (`_read_once`)."""
    out, memo = Proposal(row), {} if memo is None else memo
    for owner in row.source_agents:
        rules = rules_from_row(_read_once(memo, "policy", owner, ctx.store.get_policy))
        if rules and (ctx.store.get_contract(row.id) if out.decisions else row).status in OPEN:
            out.decisions.append(_apply_policy(ctx, row, owner, rules, now))
    if out.decisions:
        out.row = ctx.store.get_contract(row.id)
    return out


def attempt_of(row: ContractRow) -> int:
    """The contract's current attempt (1 for its first proposal)."""
    n = (row.meta or {}).get("attempt", 1)
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else 1


def _new_attempt(ctx, row: ContractRow, agent: str, sources: set[str], now: float) -> Proposal:
    """Propose again a contract whose last attempt ended without a release (its `require` or
    `ensure` failed, it errored or short-circuited, it was rejected, denied or revoked): a new
    attempt of the same contract (same identity, same stored proposal). After an execution that
    released nothing, the hand approvals of the same identity carry over (they are signatures
    over it, re-verified at execution), except an approval its agent followed with a rejection;
    after a revocation, rejection or denial none does (every owner decides afresh); standing
    policies decide again. A contract that released its result, or that is still open, is refused."""
    if row.status == EXECUTED or ctx.store.releases(contract_id=row.id):
        raise EscrowRefusal("already_executed", f"contract {row.name} ({row.id[:12]}) released its result: it is done. "
                                                f"A contract runs to release once; to run it again propose a new "
                                                f"contract (e.g. under another name), which needs fresh approvals")
    if row.status not in REPROPOSABLE:
        raise EscrowRefusal("already_proposed", f"this contract is already proposed (id {row.id[:12]}, {row.status}): "
                                                f"a new attempt starts only once this one ended")
    if sorted(sources) != sorted(row.meta.get("source_data") or []):
        raise EscrowRefusal("provenance_changed", f"contract {row.name} now reads other original data than when it "
                                                  f"was first proposed: propose a changed contract instead")
    last_rejection: dict[str, float] = {}
    for r in ctx.store.rejections(row.id):
        last_rejection[r.agent] = max(r.ts, last_rejection.get(r.agent, 0.0))
    if row.status in (REVOKED, REJECTED, DENIED):  # withdrawn or blocked: every owner decides afresh
        dropped = sorted({a.agent for a in ctx.store.approvals(row.id)})
    else:  # it ran and released nothing: consent to the same identity stands, unless withdrawn by a
        # rejection, or given for data the owner has replaced since (consent was to run on that data)
        read_then = _inputs_of_last_run(ctx, row.id)
        dropped = sorted({a.agent for a in ctx.store.approvals(row.id)
                          if (a.agent in last_rejection and last_rejection[a.agent] >= a.ts)
                          or _data_changed_since(ctx, a.agent, read_then)})
    for a in dropped:
        ctx.store.remove_approvals(row.id, a)
    carried = sorted(a.agent for a in ctx.store.approvals(row.id) if not a.via_policy)
    attempt = attempt_of(row) + 1
    history = [h for h in (row.meta.get("attempts") or []) if isinstance(h, dict)] or \
        [{"attempt": 1, "proposer": row.proposer, "proposed": row.created}]
    history[-1] = {**history[-1], "outcome": row.status}
    history.append({"attempt": attempt, "proposer": agent, "proposed": now})
    ctx.store.set_contract_status(row.id, PENDING, {**row.meta, "attempt": attempt, "attempts": history})
    ctx.audit.append("reproposal", actor=agent, contract=row.id,
                     payload={"attempt": attempt, "proposer": agent, "previous": row.status, "carried": carried,
                              "dropped": dropped})
    _refresh_status(ctx, row)
    return _apply_policies(ctx, ctx.store.get_contract(row.id), now)


def _inputs_of_last_run(ctx, cid: str) -> dict[str, str] | None:
    """{data key: keyed digest of its contents} the contract's last execution read (its signed
    `execution` start entry), or None when none is recorded."""
    starts = [e for e in ctx.store.audit_find(("execution",), contract=cid) if e.payload.get("phase") == "start"]
    inputs = starts[-1].payload.get("inputs") if starts else None
    return dict(inputs) if isinstance(inputs, dict) else None


def _data_changed_since(ctx, agent: str, read_then: dict[str, str] | None) -> bool:
    """Whether a data element of `agent` that the last run read now holds other contents (or is
    gone); with nothing recorded, assumed changed."""
    if read_then is None:
        return True
    for key, digest in read_then.items():
        if owner_of(key) != agent:
            continue
        now = ctx.store.get_data(key)
        if now is None or not ctx.mac_equal(digest, now.content_hash, about=data_about(key)):
            return True
    return False


def proposal_record(row: ContractRow, *, bundle_hash: str | None = None) -> dict:
    """What the proposal entry records besides the columns, so that `dsc audit verify` can check
    every cached fact of the row against it: provenance, call inputs, kept name, the bundle (its
    hash: `bundle_hash` when the caller computed `bundle_sha256(row)` already)."""
    meta = row.meta
    return {"source_data": list(meta.get("source_data") or []), "call_inputs": list(meta.get("call_inputs") or []),
            "kept_as": meta.get("kept_as"), "function": meta.get("function") or "",
            "bundle_sha256": bundle_hash or bundle_sha256(row)}


def bundle_sha256(row: ContractRow) -> str:
    """The hash the proposal entry records of the contract's stored bundle."""
    return hashlib.sha256(canonical_json(row.meta.get("bundle") or {})).hexdigest()


def _check_proposable(ctx, scenario, contract, agent: str, memo: dict) -> tuple[list[str], set[str]]:
    """(inputs, source data) of a contract `agent` may propose here, or the refusal. `memo`: what
    the request read already (`_read_once`)."""
    by = contract.by.name if contract.by else None
    if by != agent:
        raise EscrowRefusal("not_proposer", f"contract {contract.name.name} is proposed by {by}, not {agent}")
    for t in contract.to:
        if _read_once(memo, "agent", t.name, ctx.store.get_agent) is None:
            raise EscrowRefusal("unknown_agent", f"recipient {t.name} is not registered with this escrow")
    inputs, sources = _escrow_sources(ctx, scenario, contract, memo)
    if not sources:  # the checker says so too (DSC013); the escrow decides from its own records
        raise EscrowRefusal("reads_no_data", f"contract {contract.name.name} reads no data, so no owner would "
                                             f"approve it (DSC013): nothing was proposed")
    for o in sorted({owner_of(k) for k in sources}):
        if _read_once(memo, "agent", o, ctx.store.get_agent) is None:
            raise EscrowRefusal("unknown_agent", f"data owner {o} is not registered with this escrow")
    if contract.keep_as is not None:
        k = contract.keep_as.name
        taken = ctx.store.get_data(k) is not None or bool(ctx.store.contracts_keeping(k, (*MAY_RUN, EXECUTED)))
        if taken:
            raise EscrowRefusal("kept_taken", f"a kept result named '{k}' already exists in this escrow")
    return inputs, sources


def _contract_row(m: Materialized, bundle: dict, scenario, contract, ident, agent: str, inputs: list[str],
                  sources: set[str], now: float) -> ContractRow:
    """The row that records a proposal: canonical form, bundle, function identities, provenance."""
    functions = {}
    for fname, f in ident.functions.items():
        entry = {"origin": f.origin, "sha256": f.sha256, "line": f.line}
        if f.origin == "user":
            use = m.use_path_of(f.path)
            entry["module"] = use[0] if use else f.path.name
        else:
            entry["module"] = f.module
        functions[fname] = entry
    owners = sorted({owner_of(k) for k in sources})
    return ContractRow(
        id=ident.sha256,
        name=contract.name.name,
        canonical=ident.canonical,
        source=bundle["source"],
        function_hashes={n: f.sha256 for n, f in ident.functions.items()},
        proposer=agent,
        status=str(PENDING if owners else APPROVED),  # a plain str, as the store returns it
        inputs=tuple(inputs),
        recipients=tuple(sorted({t.name for t in contract.to})),
        source_agents=tuple(owners),
        meta={
            "file": m.file.name,
            "bundle": {"file": m.file.name, "source": bundle["source"], "modules": dict(bundle.get("modules") or {})},
            "function": contract.call.func.name if contract.call else "",
            "functions": functions,
            "kept_as": contract.keep_as.name if contract.keep_as else None,
            "source_data": sorted(sources),
            "call_inputs": scenario.call_inputs(contract),
            "condition_lines": {"require": [e.span.line for e in contract.requires],
                                "ensure": [e.span.line for e in contract.ensures]},
        },
        created=now,
        updated=now,
    )


# ---------------------------------------------------------------- approve / reject / revoke


def _open_to_source_agent(ctx, cid, agent: str, verb: str, done: str, also=frozenset()) -> ContractRow:
    """The contract, if `agent` is one of its source agents and it is still open to a decision
    (or in one of the statuses `also`)."""
    return _open_to(party_contract(ctx, cid, agent), agent, verb, done, also)


def _open_to(row: ContractRow, agent: str, verb: str, done: str, also=frozenset()) -> ContractRow:
    """`row` if `agent` is one of its source agents and it is open (`_open_to_source_agent`)."""
    if agent not in row.source_agents:
        raise EscrowRefusal("not_source_agent", f"{agent} owns none of the data of contract {row.name}: only "
                                                f"{', '.join(row.source_agents) or 'nobody'} may {verb} it")
    if row.status not in OPEN and row.status not in also:
        raise EscrowRefusal("closed", f"contract {row.name} is {row.status}: it can no longer be {done}")
    return row


def check_may_approve(ctx, cid, agent: str) -> ContractRow:
    """What `approve` refuses before looking at the signature, checked without acting (a front end
    asks before showing the summary): `agent` is a source agent, the contract is open, and
    `agent` has not approved it yet."""
    return _may_approve(ctx, cid, agent)[0]


def _may_approve(ctx, cid, agent: str) -> tuple[ContractRow, set[str]]:
    """`check_may_approve`, and the agents that approved the contract so far."""
    found, approvals = ctx.store.contract_with_approvals(cid) if isinstance(cid, str) else (None, [])
    row = _open_to(_party_to(found, cid, agent), agent, "approve", "approved")
    approved = {a.agent for a in approvals}
    if agent in approved:
        raise EscrowRefusal("already_approved", f"{agent} already approved contract {row.name}")
    return row, approved


def approve(ctx, request) -> ContractRow:
    cid = request.params.get("contract")
    signature = request.params.get("signature")

    def body(signer) -> ContractRow:
        return _approve_one(ctx, signer.name, signer.public_key, cid, signature, time.time())

    return signed_action_of(ctx, request, APPROVE, body, contract=cid if isinstance(cid, str) else None)


def approve_many(ctx, request) -> list[ContractRow]:
    """Approve several contracts in one signed request and one transaction: each item carries its
    own approval signature (over the escrow id and that contract's identity, as `approve` takes
    it) and is checked and recorded exactly as `approve` does it. All or nothing: the first item
    refused refuses the request, naming it, and nothing is approved."""
    items = request.params.get("approvals")

    def body(signer) -> list[ContractRow]:
        wanted = _batch(items, "approvals", lambda it: isinstance(it, dict) and isinstance(it.get("contract"), str)
                        and isinstance(it.get("signature"), str), "{contract, signature}")
        if len({it["contract"] for it in wanted}) != len(wanted):
            raise EscrowRefusal("bad_request", "a contract is approved twice in the request: name each once")
        agent, pub, now, out = signer.name, signer.public_key, time.time(), []
        for i, it in enumerate(wanted, start=1):
            with _naming_item(i, len(wanted), f"contract {it['contract'][:12]}", it["contract"]):
                out.append(_approve_one(ctx, agent, pub, it["contract"], it["signature"], now))
        return out

    return signed_action_of(ctx, request, APPROVE_MANY, body)


def _approve_one(ctx, agent: str, pub: str, cid, signature, now: float) -> ContractRow:
    """Record `agent`'s approval of contract `cid` after checking its signature against `pub`
    (inside the action's transaction); the contract as it now stands."""
    row, approved = _may_approve(ctx, cid, agent)
    if not isinstance(signature, str) or not verify(pub, approval_message(ctx.escrow_id, row.id), signature):
        raise EscrowRefusal("bad_approval", f"the approval signature is not {agent}'s signature of contract "
                                            f"{row.id[:12]} at this escrow: an approval of another (older) version, "
                                            f"or given at another escrow, is not valid")
    ctx.store.add_approval(ApprovalRow(contract_id=row.id, agent=agent, signature=signature, ts=now))
    ctx.audit.append("approval", actor=agent, contract=row.id, payload={"agent": agent, "signature": signature})
    # nothing else changed the row since it was read in this transaction: it is not read again
    status = _refresh_status(ctx, row, approved | {agent}, updated=now)
    return row if status == row.status else dataclasses.replace(row, status=str(status), updated=now)


def reject(ctx, request) -> ContractRow:
    """A source agent blocks an open contract; after an attempt that ran and released nothing
    (`failed`, `error`, `short_circuit`) it withdraws its consent instead: the rejection is
    recorded, the attempt's outcome stays, and its approval does not carry over to a new attempt."""
    cid = request.params.get("contract")
    reason = str(request.params.get("reason") or "")[:2000]

    def body(agent: str) -> ContractRow:
        row = _open_to_source_agent(ctx, cid, agent, "reject", "rejected", also=ENDED_WITHOUT_RELEASE)
        if row.status not in OPEN and _rejected_this_attempt(ctx, row, agent):
            # once per attempt: a repeat would change nothing but add to the history every party reads
            raise EscrowRefusal("already_rejected", f"{agent} already withdrew its consent to this attempt of "
                                                    f"contract {row.name}")
        ctx.store.add_rejection(RejectionRow(contract_id=row.id, agent=agent, reason=reason, ts=time.time()))
        if row.status in OPEN:  # blocked; an ended attempt keeps its outcome
            ctx.store.set_contract_status(row.id, REJECTED)
        ctx.audit.append("rejection", actor=agent, contract=row.id, payload={"agent": agent, "reason": reason})
        return ctx.store.get_contract(row.id)

    return signed_action(ctx, request, REJECT, body, contract=cid if isinstance(cid, str) else None)


def _rejected_this_attempt(ctx, row: ContractRow, agent: str) -> bool:
    started = attempts(row)[-1].get("proposed")
    started = started if isinstance(started, (int, float)) and not isinstance(started, bool) else row.created
    return any(r.agent == agent and r.ts >= started for r in ctx.store.rejections(row.id))


def revoke(ctx, request) -> ContractRow:
    """The proposer withdraws the contract; a source agent withdraws their approval. Before execution."""
    cid = request.params.get("contract")

    def body(agent: str) -> ContractRow:
        row = party_contract(ctx, cid, agent)
        ended = row.status in ENDED_WITHOUT_RELEASE  # ran, released nothing: consent may still be withdrawn
        if row.status not in OPEN and not ended:
            raise EscrowRefusal("closed", f"contract {row.name} is {row.status}: only a pending or approved "
                                          f"contract, or one whose attempt released nothing, can be revoked")
        if agent == row.proposer and not ended:
            ctx.store.set_contract_status(row.id, REVOKED)
            ctx.audit.append("revocation", actor=agent, contract=row.id, payload={"agent": agent, "what": "contract"})
        elif agent in _approved_by(ctx, row.id):
            ctx.store.remove_approvals(row.id, agent)
            ctx.audit.append("revocation", actor=agent, contract=row.id, payload={"agent": agent, "what": "approval"})
            if not ended:
                _refresh_status(ctx, row)
        elif agent == row.proposer:  # its attempt ended: the proposer withdraws the contract
            ctx.store.set_contract_status(row.id, REVOKED)
            ctx.audit.append("revocation", actor=agent, contract=row.id, payload={"agent": agent, "what": "contract"})
        else:
            raise EscrowRefusal("not_allowed", f"{agent} can revoke neither contract {row.name} (proposed by "
                                               f"{row.proposer}) nor an approval of it (none given)")
        return ctx.store.get_contract(row.id)

    return signed_action(ctx, request, REVOKE, body, contract=cid if isinstance(cid, str) else None)


# ---------------------------------------------------------------- standing policies


@dataclass
class PolicyApplied:
    owner: str
    rules: list[pol.PolicyRule]
    decisions: list[tuple[str, str, Decided]]  # (contract id, contract name, decision)
    superseded: bool = False  # a newer policy of the owner's was applied before this one reached every contract


# A policy is applied to an owner's contracts a page per transaction: at most POLICY_PAGE
# contracts or POLICY_PAGE_SECONDS of work, then POLICY_PAUSE without the store's write lock, in
# which a request waiting for it (another thread of `dsc serve`, another process) takes it.
POLICY_PAGE = 200
POLICY_PAGE_SECONDS = 0.05
POLICY_PAUSE = 0.01


def apply_policy(ctx, request) -> PolicyApplied:
    """Register the `--as` agent's policy blocks from a .dsc file, then apply them to open contracts.

    The file travels with the modules it `use`s, like a proposal, and is checked; it is refused
    if it does not parse, if a module it uses is refused, or if a rule names a function that is
    neither a built-in nor a function of those modules (`loading.POLICY_FILE_ERRORS`). Every
    function its rules name is resolved in it and recorded with its identity (origin and closure
    hash), so that a rule only ever matches that function.

    The policy is registered, and applied to the owner's first `POLICY_PAGE` contracts, in the
    transaction of the request; the rest a page per transaction, so that an owner with 100,000
    open contracts does not hold the store's write lock (every other party's action) for the
    whole of it. A page applies the policy only if it is still the owner's registered one (a
    newer one, applied meanwhile, decides the rest: `superseded`). Contracts proposed meanwhile
    are decided at their proposal. Should the escrow stop half-way, applying the policy again
    decides the rest (a decision already recorded is kept)."""
    p = request.params
    now = time.time()

    def body(agent: str) -> tuple[PolicyApplied, str, str, tuple | None]:
        source, file = p.get("source"), str(p.get("file") or "policy.dsc")
        if not isinstance(source, str):
            raise EscrowRefusal("bad_request", "policy.apply request without policy text")
        with Materialized({"file": file, "source": source, "modules": p.get("modules") or {}}) as m:
            scenario, errors = policy_file(m.loaded)
            if scenario is None:
                raise EscrowRefusal("check_failed", f"the policy file has errors, nothing was registered: "
                                                    f"{m.render(errors)}")
            blocks = [b for b in scenario.program.policies if b.owner.name == agent]
            if not blocks:
                owners = sorted({b.owner.name for b in scenario.program.policies})
                raise EscrowRefusal("not_owner", f"{file} has no policy of {agent} (policies of: "
                                                 f"{', '.join(owners) or 'nobody'}); an agent applies only its own "
                                                 f"policy")
            resolve = pol.resolver(scenario)
            unknown = pol.unresolved(blocks, resolve)
            if unknown:
                raise EscrowRefusal("unknown_function", f"the policy names function{'s' if len(unknown) > 1 else ''} "
                                                        f"{', '.join(unknown)}, neither built-in nor in a module "
                                                        f"{file} uses")
            rules = pol.rules_of(blocks, file, resolve)
        rules_json = pol.rules_to_json(rules)
        ctx.store.put_policy(PolicyRow(owner=agent, rules=rules_json, source=source, updated=now))
        ctx.audit.append("policy_apply", actor=agent,
                         payload={"owner": agent, "file": file, "rules": [_policy_label(r) for r in rules],
                                  "functions": {f.name: f.to_json() for r in rules for f in r.identities()},
                                  "rules_sha256": hashlib.sha256(rules_json.encode()).hexdigest()})
        out = PolicyApplied(agent, rules, [])
        return out, agent, rules_json, _apply_policy_page(ctx, agent, rules, now, out, None)

    out, agent, rules_json, cursor = signed_action(ctx, request, POLICY_APPLY, body)
    while cursor is not None:
        time.sleep(POLICY_PAUSE)
        try:
            with ctx.store.transaction():
                current = ctx.store.get_policy(agent)
                if current is None or current.rules != rules_json or current.updated != now:
                    out.superseded = True
                    break
                cursor = _apply_policy_page(ctx, agent, out.rules, now, out, cursor)
        except EscrowRefusal as exc:  # this page is rolled back; the policy and the pages before stand
            raise ctx.refuse(exc.code, f"the policy is registered and {len(out.decisions)} decision(s) of it are "
                                       f"recorded; then: {exc} (apply it again for the rest)",
                             actor=agent, action=POLICY_APPLY) from None
    return out


def _apply_policy_page(ctx, agent: str, rules, now: float, out: PolicyApplied, after) -> tuple | None:
    """Apply `rules` to the open contracts of `agent`'s data among the next `POLICY_PAGE` of its
    contracts (through the index of its own contracts, not every one: red team H32), for at most
    about `POLICY_PAGE_SECONDS`; the cursor of the next page, None after the last."""
    rows, until = ctx.store.contracts_of(agent, after=after, limit=POLICY_PAGE), time.monotonic() + POLICY_PAGE_SECONDS
    for row in rows:
        if row.status in OPEN and agent in row.source_agents:
            d = _apply_policy(ctx, row, agent, rules, now)
            if d.effect not in (None, "kept"):
                out.decisions.append((row.id, row.name, d))
            if time.monotonic() > until:
                return row.created, row.id
    return (rows[-1].created, rows[-1].id) if rows else None


# ---------------------------------------------------------------- queries


@dataclass
class Status:
    row: ContractRow
    approvals: list[ApprovalRow]
    rejections: list
    missing: list[str]
    releases: list
    executions: list
    release_macs: dict = field(default_factory=dict)  # recipient -> keyed digest of its release

    def to_json(self) -> dict:
        r = self.row
        return {
            "id": r.id,
            "name": r.name,
            "status": r.status,
            "proposer": r.proposer,
            "source_agents": list(r.source_agents),
            "recipients": list(r.recipients),
            "kept_as": r.meta.get("kept_as"),
            "approvals": [{"agent": a.agent, "via_policy": a.via_policy, "ts": a.ts} for a in self.approvals],
            "missing_approvals": self.missing,
            "rejections": [{"agent": x.agent, "reason": x.reason, "via_policy": x.via_policy} for x in self.rejections],
            "executions": [{"id": e.id, "number": i, "attempt": execution_attempt(e), "status": e.status,
                            "actor": e.actor, "detail": e.detail} for i, e in enumerate(self.executions, start=1)],
            # a keyed digest (`EscrowContext.mac`), never the plaintext sha256 a non-recipient could
            # test guesses of a small result against
            "releases": [{"recipient": x.recipient, "path": x.path, "content_mac": self.release_macs.get(x.recipient)}
                         for x in self.releases],
            "attempt": attempt_of(r),
            "attempts": attempts(r),
        }


def attempts(row: ContractRow) -> list[dict]:
    """The contract's attempts, oldest first: {attempt, proposer, proposed, outcome}; the current
    attempt's outcome is the contract's status."""
    history = [dict(h) for h in (row.meta.get("attempts") or []) if isinstance(h, dict)] or \
        [{"attempt": 1, "proposer": row.proposer, "proposed": row.created}]
    history[-1]["outcome"] = row.status
    return history


def execution_attempt(e) -> int:
    """The attempt an execution belongs to (recorded in its detail; 1 before attempts existed)."""
    n = (e.detail or {}).get("attempt", 1)
    return n if isinstance(n, int) and not isinstance(n, bool) and n >= 1 else 1


def status(ctx, cid: str) -> Status:
    row = contract_row(ctx, cid)
    approvals = ctx.store.approvals(row.id)
    got = {a.agent for a in approvals}
    releases = ctx.store.releases(contract_id=row.id)
    return Status(row, approvals, ctx.store.rejections(row.id), [a for a in row.source_agents if a not in got],
                  releases, ctx.store.executions(row.id), {x.recipient: ctx.mac(x.content_hash, about=release_about(row.id, x.recipient))
                                                              for x in releases})


def pending_for(ctx, agent: str, *, after: tuple[float, str] | None = None,
                limit: int | None = None) -> list[ContractRow]:
    """Open contracts waiting for `agent`'s approval (paged as `Store.pending_for`)."""
    return ctx.store.pending_for(agent, after=after, limit=limit)
