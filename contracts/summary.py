"""The human summary a data owner reads before approving a contract.

`summarize` builds a plain dict (also the `--format json` output); `render` lays it out
with rich: who contributes which data, what runs, who receives what, every condition,
the policies that would decide it and the identity hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datastation.dsl import ir
from datastation.dsl.printer import to_source

from .identity import IdentityError, identity
from .model import Scenario
from .policy import ContractFacts, decide_all, facts_for, resolver, rules_of
from .provenance import owner_of


def _display(scenario: Scenario, agent: str) -> str | None:
    a = scenario.agents.get(agent)
    return a.display.value if a is not None and a.display is not None else None


def _rel(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Records:
    """What an escrow's records say about a stored contract's inputs: they replace the story the
    file tells (a stale or edited file may keep an intermediate result from fewer owners)."""

    source_data: tuple[str, ...]  # the original data elements behind every input
    kept: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # name -> (kept by, sources)
    displays: dict[str, str | None] = field(default_factory=dict)  # registered agents' display names


def summarize(scenario: Scenario, contract: ir.Contract | str, extra_policies=(), records: Records | None = None) -> dict:
    """Everything an owner needs to decide on `contract`, as JSON-ready data.

    `extra_policies` are `policy.PolicyRule`s registered elsewhere (e.g. in the escrow);
    `records`, the escrow's provenance of the inputs (then the file's own is not used).
    """
    if isinstance(contract, str):
        contract = scenario.contracts[contract]
    name = contract.name.name
    try:
        ident = identity(scenario, contract)
        identity_hash, functions, identity_error = ident.sha256, ident.functions, None
    except IdentityError as exc:
        identity_hash, functions, identity_error = None, {}, str(exc)

    def display(agent: str) -> str | None:
        return records.displays.get(agent) if records is not None else _display(scenario, agent)

    source_data = set(records.source_data) if records is not None else set(scenario.source_data(contract))
    contributions: dict[str, dict] = {}
    for key in sorted(source_data):
        owner = owner_of(key)
        entry = contributions.setdefault(owner, {"agent": owner, "display": display(owner), "data": []})
        d = scenario.data.get(key)
        entry["data"].append(
            {"key": key, "format": d.format.name if d else None, "declared": d is not None}
        )
    kept_inputs = []
    for key in scenario.inputs(contract):
        if records is not None and key in records.kept:
            kept_by, sources = records.kept[key]
            kept_inputs.append({"name": key, "kept_by": kept_by, "sources": sorted(sources)})
        elif records is None and key in scenario.kept:
            kc = scenario.kept[key]
            kept_inputs.append(
                {"name": key, "kept_by": kc.name.name, "sources": sorted(scenario.expand(key))}
            )
    call = contract.call
    runs = None
    if call is not None:
        f = functions.get(call.func.name)
        runs = {
            "function": call.func.name,
            "module": (_rel(f.path, scenario.base_dir) if f.origin == "user" else f.module) if f else None,
            "origin": f.origin if f else None,
            "line": f.line if f else None,
            "arguments": [{"name": None, "value": to_source(a)} for a in call.args]
            + [{"name": k.name.name, "value": to_source(k.value)} for k in call.kwargs],
            "call": to_source(call),
        }
    conditions = [
        {"kind": "require", "condition": to_source(e), "line": e.span.line} for e in contract.requires
    ] + [{"kind": "ensure", "condition": to_source(e), "line": e.span.line} for e in contract.ensures]
    rules = rules_of((p for ps in scenario.policies.values() for p in ps), resolve=resolver(scenario))
    rules += list(extra_policies)
    called = facts_for(scenario, contract)
    facts = ContractFacts(functions=called.functions, data=frozenset(source_data), to=called.to)
    owners = {owner_of(k) for k in source_data}
    decisions = decide_all(owners, rules, facts)
    return {
        "contract": name,
        "file": contract.span.file,
        "line": contract.span.line,
        "proposed_by": contract.by.name if contract.by else None,
        "identity": identity_hash,
        "identity_error": identity_error,
        "contributors": list(contributions.values()),
        "kept_inputs": kept_inputs,
        "source_agents": sorted(owners),
        "runs": runs,
        "recipients": [{"agent": t.name, "display": display(t.name)} for t in contract.to],
        "kept_as": contract.keep_as.name if contract.keep_as else None,
        "conditions": conditions,
        "policies": [d.to_json() | {"explanation": d.explain()} for d in decisions.values()],
        "functions": {
            n: {"origin": f.origin, "module": _rel(f.path, scenario.base_dir) if f.origin == "user" else f.module, "line": f.line, "sha256": f.sha256}
            for n, f in sorted(functions.items())
        },
    }
