"""The facts of a stored contract, derived from what its approvers signed, never from its row.

A contract's row caches its recipients, source agents, inputs and provenance in columns and
in `meta`; whoever can write the escrow's database can edit them. Before a contract runs, and
before an owner is shown what they approve, the escrow derives every fact again:

1. the stored canonical form must hash to the contract's id (what approvals sign), and the
   contract the stored bundle defines under that name must have exactly that canonical form;
   `strict` (execution, approval): the identity is recomputed in full from the bundle (the
   function sources included) and must equal the id;
2. proposer and recipients come from that contract; inputs from its expressions as the
   bundle's program declares them, and every data element or kept result the expressions
   name that this escrow holds must be among them (declarations cannot be edited away);
3. every input is bound to the signed audit log: an original data element to its owner and
   to the content hash of its last `data_add`/`data_replace` entry; a kept result to the
   signed `kept` entry of the contract that kept it and to that contract's own facts
   (recursively), so its provenance cannot be edited;
4. source data = the originals behind the inputs, source agents = their owners;
5. the cached columns must agree, or the contract is refused (`record_tampered`).

Approvals are then checked as signatures over the id by keys bound to the agents'
`agent_created` entries (`agent_key`). `dsc audit verify` runs the same derivation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from datastation.contracts import policy as pol
from datastation.contracts.identity import IdentityError, contract_form, dumps, identity
from datastation.contracts.model import Scenario
from datastation.contracts.provenance import owner_of
from datastation.contracts.status import MAY_RUN, ContractStatus
from datastation.dsl import ir
from datastation.dsl.symbols import RESULT
from datastation.dsl.walk import EMPTY_SCOPE, contract_exprs, walk_list

from ..audit import bound_agent_key, entry_valid
from ..store import ContractRow, DataRow
from .bundle import bundle_scenario
from .context import EscrowRefusal, data_about

DERIVED_OWNER = "_derived"  # storage folder of kept results (their owners are in the provenance)
DATA_KINDS = ("data_add", "data_replace", "data_remove")


@dataclass(frozen=True)
class KeptOrigin:
    """Where a kept result comes from, by the escrow's signed records."""

    name: str
    contract_id: str  # the contract that keeps it
    contract_name: str
    sources: tuple[str, ...]  # the original data elements behind it
    row: DataRow | None  # its data row, bound to the log; None while the keeping contract has not run
    # every function of its provenance chain: those the keeping contract calls, and (transitively)
    # those that made the kept results it read; standing policies judge a reader by them too
    functions: frozenset = frozenset()

    @property
    def content_hash(self) -> str | None:
        return self.row.content_hash if self.row is not None else None


@dataclass(frozen=True)
class ContractFacts:
    row: ContractRow
    contract: ir.Contract  # as the stored bundle defines it (spans included)
    scenario: Scenario  # the stored bundle
    proposer: str
    recipients: tuple[str, ...]  # sorted
    inputs: tuple[str, ...]  # in the order the proposal recorded them
    call_inputs: tuple[str, ...]
    source_data: tuple[str, ...]  # sorted
    source_agents: tuple[str, ...]  # sorted
    kept_as: str | None
    function: str
    function_hashes: dict[str, str] = field(default_factory=dict)  # strict only
    data: dict[str, DataRow] = field(default_factory=dict)  # the bound rows of the inputs held now
    kept: dict[str, KeptOrigin] = field(default_factory=dict)

    def provenance_functions(self) -> frozenset:
        """The functions of the contracts that made this contract's kept inputs, transitively."""
        return frozenset().union(*(o.functions for o in self.kept.values()))

    def policy_facts(self) -> pol.ContractFacts:
        """What standing policies judge (docs/language.md): every function this contract calls and
        every function of its kept inputs' provenance (F), the original data behind it (D), its
        recipients (T; none for a contract that only keeps its result)."""
        called = pol.facts_for(self.scenario, self.contract)  # identities in the approved bundle
        return pol.ContractFacts(functions=called.functions | self.provenance_functions(),
                                 data=frozenset(self.source_data), to=frozenset(self.recipients))


def contract_facts(ctx, row: ContractRow, *, strict: bool = True, need_data: bool = True, bind_data: bool = True,
                   _seen: frozenset = frozenset()) -> ContractFacts:
    """The verified facts of `row` (see the module docstring); an `EscrowRefusal` when they cannot be.

    `need_data`: every input must be in the escrow now (execution); without it a kept result
    not computed yet is traced through the open contract that will keep it (summaries).
    `bind_data`: bind the original inputs' rows to the log (not for a contract that kept a
    result long ago: only where its data came from matters, and its inputs may be gone since)."""
    if row.id in _seen:
        raise EscrowRefusal("provenance_changed", f"kept results of contract {row.name} depend on themselves")
    scenario, contract, functions = _recompute(row, strict)
    inputs = tuple(scenario.inputs(contract))
    _check_complete(ctx, row, contract, inputs)
    data, kept, sources = {}, {}, set()
    for key in inputs:
        if "." in key:
            if bind_data:
                data[key] = bound_original(ctx, key)
            sources.add(key)
        else:
            origin = kept_origin(ctx, key, need_data=need_data, _seen=_seen | {row.id})
            kept[key] = origin
            sources |= set(origin.sources)
            if origin.row is not None:
                data[key] = origin.row
    facts = ContractFacts(
        row=row, contract=contract, scenario=scenario,
        proposer=contract.by.name if contract.by else "",
        recipients=tuple(sorted({t.name for t in contract.to})),
        inputs=inputs,
        call_inputs=tuple(scenario.call_inputs(contract)),
        source_data=tuple(sorted(sources)),
        source_agents=tuple(sorted({owner_of(k) for k in sources})),
        kept_as=contract.keep_as.name if contract.keep_as else None,
        function=contract.call.func.name if contract.call else "",
        function_hashes={n: f.sha256 for n, f in functions.items()}, data=data, kept=kept,
    )
    _check_cached(row, facts, strict, functions)
    return facts


# ------------------------------------------------------------------ the proposal itself


def _recompute(row: ContractRow, strict: bool) -> tuple[Scenario, ir.Contract, dict]:
    """(bundle scenario, contract, {name: FunctionSource} of the functions it calls) of a stored
    proposal bound to its id (the functions only when `strict`)."""
    changed = EscrowRefusal("identity_changed", f"contract {row.name} no longer matches what was approved (its "
                                                f"stored proposal was changed, or a built-in function changed "
                                                f"since): propose it again")
    if hashlib.sha256(str(row.canonical).encode("utf-8")).hexdigest() != row.id:
        raise changed
    try:
        doc = json.loads(row.canonical)
        bundle = row.meta.get("bundle") if isinstance(row.meta, dict) else None
        scenario = bundle_scenario(bundle)
    except Exception:  # noqa: BLE001 - any malformed stored text means: not what was approved
        raise changed from None
    contract = scenario.contracts.get(row.name)
    if contract is None or not isinstance(doc, dict) or dumps(contract_form(contract)) != dumps(doc.get("contract")):
        raise changed
    functions: dict = {}
    if strict:
        try:
            ident = identity(scenario, contract)
        except IdentityError:
            raise changed from None
        if ident.sha256 != row.id or ident.canonical != row.canonical:
            raise changed
        functions = dict(ident.functions)
    return scenario, contract, functions


def named_data(contract: ir.Contract) -> tuple[set[str], set[str]]:
    """(data keys, bare names) the contract's expressions name, read without any declaration:
    `x.a` for every attribute on a name (a quantifier variable standing for each name in its
    list), and every other free bare name but `result`."""
    keys: set[str] = set()
    names: set[str] = set()

    def bind(forall: ir.ForAll, scope) -> tuple[str, ...]:
        items = forall.iterable.items if isinstance(forall.iterable, ir.ListExpr) else ()
        out: list[str] = []
        for item in items:
            if isinstance(item, ir.Name):
                out.extend(scope[item.id] if item.id in scope else (item.id,))
        return tuple(out)

    for _, expr in contract_exprs(contract):
        bases = set()
        for node, scope in walk_list(expr, EMPTY_SCOPE, bind):
            if isinstance(node, ir.Attribute) and isinstance(node.value, ir.Name):
                bases.add(id(node.value))
                base = node.value.id
                for owner in (scope[base] if base in scope else (base,)):
                    keys.add(f"{owner}.{node.attr.name}")
            elif isinstance(node, ir.Name) and id(node) not in bases and node.id not in scope and node.id != RESULT:
                names.add(node.id)
    return keys, names


def _check_complete(ctx, row: ContractRow, contract: ir.Contract, inputs: tuple[str, ...]) -> None:
    """Every data element or kept result of this escrow the contract names is one of its inputs."""
    keys, names = named_data(contract)
    have = set(inputs)
    for key in sorted(keys - have):
        if ctx.store.get_data(key) is not None:
            raise EscrowRefusal("record_tampered", f"the stored proposal of contract {row.name} no longer declares "
                                                   f"{key}, which the contract names")
    for name in sorted(names - have):
        d = ctx.store.get_data(name)
        if (d is not None and d.derived) or ctx.store.get_kept(name) is not None:
            raise EscrowRefusal("record_tampered", f"the stored proposal of contract {row.name} no longer declares "
                                                   f"the kept result {name}, which the contract names")


def _check_cached(row: ContractRow, f: ContractFacts, strict: bool, functions: dict) -> None:
    """The row's cached columns must say what the derivation says. `meta.functions` is what
    execution loads each function by (origin, module, closure hash): its origin and hash must be
    the approved identity's, so that whatever module it names, only the approved closure runs."""
    meta = row.meta if isinstance(row.meta, dict) else {}
    if list(meta.get("source_data") or []) != list(f.source_data):
        raise EscrowRefusal("provenance_changed", f"contract {row.name} reads data that does not come from what its "
                                                  f"approvers approved (its provenance changed since)")
    cached = {
        "proposer": (row.proposer, f.proposer),
        "recipients": (tuple(row.recipients), f.recipients),
        "inputs": (tuple(row.inputs), f.inputs),
        "source_agents": (tuple(row.source_agents), f.source_agents),
        "meta.call_inputs": (list(meta.get("call_inputs") or []), list(f.call_inputs)),
        "meta.kept_as": (meta.get("kept_as"), f.kept_as),
        "meta.function": (meta.get("function") or "", f.function),
    }
    if strict:
        cached["function_hashes"] = (dict(row.function_hashes), f.function_hashes)
        recorded = meta.get("functions") if isinstance(meta.get("functions"), dict) else {}
        cached["meta.functions"] = (
            {n: (e.get("origin"), e.get("sha256")) if isinstance(e, dict) else None for n, e in recorded.items()},
            {n: (fs.origin, fs.sha256) for n, fs in functions.items()})
    bad = [name for name, (have, want) in cached.items() if have != want]
    if bad:
        raise EscrowRefusal("record_tampered", f"the record of contract {row.name} was changed in the database "
                                               f"({', '.join(bad)}): it is not what was proposed")


# ------------------------------------------------------------------ inputs, bound to the log


def _last_valid(ctx, entries):
    """The last of `entries`, if the escrow signed it (else None: the log was tampered with)."""
    if not entries:
        return None
    last = entries[-1]
    return last if entry_valid(last, ctx.escrow_public_pem) else None


CONSENT_KINDS = ("approval", "policy_decision", "rejection", "revocation", "reproposal")
_CLEARED_BY = frozenset({"revoked", "rejected", "denied"})  # a new attempt after these: every owner decides afresh


def logged_consent(ctx, contract_id: str) -> dict[str, str]:
    """The source agents whose consent to contract `contract_id` stands by its signed log entries
    ("hand" or "policy"): an approval row counts only for them, so an approval row kept after its
    agent rejected or revoked, or put back by hand, never does. Mirrors every change `lifecycle`
    makes to the approvals, each of which appends one of `CONSENT_KINDS` in the same transaction.
    An entry the escrow did not sign refuses the contract (`record_tampered`)."""
    consent: dict[str, str] = {}
    for e in ctx.store.audit_find(CONSENT_KINDS, contract=contract_id):
        if not entry_valid(e, ctx.escrow_public_pem):
            raise EscrowRefusal("record_tampered", f"an audit entry about contract {contract_id[:12]} is not signed "
                                                   f"by this escrow (#{e.seq}): the log was tampered with")
        p, agent = e.payload, e.payload.get("agent")
        if e.kind == "approval":
            consent[agent] = "hand"
        elif e.kind == "policy_decision":
            if p.get("effect") == pol.ALLOW:
                consent[agent] = "policy"
            else:
                consent.pop(agent, None)
        elif e.kind == "rejection" or (e.kind == "revocation" and p.get("what") == "approval"):
            consent.pop(agent, None)
        elif e.kind == "reproposal":
            carried = set(p.get("carried") or ())
            consent = {} if p.get("previous") in _CLEARED_BY else \
                {a: how for a, how in consent.items() if how == "policy" or a in carried}
    return consent


def bound_original(ctx, key: str) -> DataRow:
    """The row of original data element `key`, if its owner and contents are what the log records."""
    d = ctx.store.get_data(key)
    if d is None:
        raise EscrowRefusal("no_data", f"data element {key} is not in this escrow")
    last = _last_valid(ctx, ctx.store.audit_find(DATA_KINDS, field="key", value=key))
    if (d.derived or d.owner != owner_of(key) or last is None or last.kind == "data_remove"
            or last.payload.get("owner") != d.owner or not ctx.mac_matches(last.payload, "content", d.content_hash, about=data_about(key))):
        raise EscrowRefusal("data_tampered", f"data element {key} is not what its owner registered (its record "
                                             f"does not match the audit log)")
    return d


def kept_origin(ctx, name: str, *, need_data: bool = True, _seen: frozenset = frozenset()) -> KeptOrigin:
    """Where kept result `name` comes from: the contract that kept it (or, without `need_data`, the
    open one that will), verified, and the signed record of what it kept."""
    d = ctx.store.get_data(name)
    if d is None:
        if need_data:
            raise EscrowRefusal("no_data", f"kept result {name} is not in the escrow (was the contract keeping it "
                                           f"executed?)")
        return _future_kept(ctx, name, _seen)
    kept = ctx.store.get_kept(name)
    keeper = ctx.store.get_contract(kept.contract_id) if kept is not None else None
    tampered = EscrowRefusal("provenance_changed", f"kept result {name} is not what the contract that kept it "
                                                   f"recorded (its record does not match the audit log)")
    if keeper is None or not d.derived or d.owner != DERIVED_OWNER or keeper.status != ContractStatus.EXECUTED:
        raise tampered
    kf = contract_facts(ctx, keeper, strict=False, need_data=False, bind_data=False, _seen=_seen)
    entries = [e for e in ctx.store.audit_find(("kept",), contract=keeper.id) if e.payload.get("name") == name]
    last = _last_valid(ctx, entries)
    if (kf.kept_as != name or last is None
            or not ctx.mac_matches(last.payload, "content", d.content_hash, about=data_about(name))
            or sorted(last.payload.get("provenance") or []) != list(kf.source_data)
            or sorted(d.provenance) != list(kf.source_data)):
        raise tampered
    return KeptOrigin(name, keeper.id, keeper.name, kf.source_data, d, _chain_functions(kf))


def _chain_functions(kf: ContractFacts) -> frozenset:
    """The functions a keeping contract calls and those of its own kept inputs' provenance."""
    return pol.facts_for(kf.scenario, kf.contract).functions | kf.provenance_functions()


def provenance_functions(ctx, inputs) -> frozenset:
    """The provenance functions of the kept results among `inputs` (names without a dot), traced
    through the contracts that kept (or will keep) them; a chain that cannot be traced gives a
    function no rule but a wildcard names."""
    out = frozenset()
    for name in inputs:
        if "." not in name:
            try:
                out |= kept_origin(ctx, name, need_data=False).functions
            except EscrowRefusal:
                out |= {pol.FunctionId(f"provenance of {name}", pol.UNKNOWN, "")}
    return out


def _future_kept(ctx, name: str, seen: frozenset) -> KeptOrigin:
    for c in ctx.store.contracts_keeping(name, tuple(MAY_RUN)):
        kf = contract_facts(ctx, c, strict=False, need_data=False, bind_data=False, _seen=seen)
        if kf.kept_as == name:
            return KeptOrigin(name, c.id, c.name, kf.source_data, None, _chain_functions(kf))
    raise EscrowRefusal("no_kept", f"kept result '{name}' does not exist in this escrow: propose the contract that "
                                   f"keeps it first")


# ------------------------------------------------------------------ agents and their policies


def agent_key(ctx, name: str) -> str | None:
    """The registered public key of `name`, if its signed `agent_created` entry binds it."""
    return bound_agent_key(ctx.store, ctx.escrow_public_pem, name)


def bound_policy(ctx, owner: str) -> list[pol.PolicyRule] | None:
    """The standing rules of `owner` if they are what its last signed `policy_apply` entry
    recorded (no rules when it never applied one); None when the policies table was edited."""
    entries = ctx.store.audit_find(("policy_apply",), field="owner", value=owner)
    row = ctx.store.get_policy(owner)
    if not entries:
        return [] if row is None else None
    last = _last_valid(ctx, entries)
    if last is None or row is None:
        return None
    rules = pol.rules_from_json(row.owner, row.rules)
    if "rules_sha256" in last.payload:
        ok = last.payload["rules_sha256"] == hashlib.sha256(row.rules.encode()).hexdigest()
    else:  # entries written before the hash was recorded: their rule labels
        ok = last.payload.get("rules") == [f"{r.where()}: {r.text()}" for r in rules]
    return rules if ok else None
