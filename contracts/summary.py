"""The human summary a data owner reads before approving a contract.

`summarize` builds a plain dict (also the `--format json` output); `render` lays it out
with rich: who contributes which data, what runs, who receives what, every condition,
the policies that would decide it and the identity hash.
"""

from __future__ import annotations

from pathlib import Path

from datastation.dsl import ir
from datastation.dsl.printer import to_source

from .identity import IdentityError, identity
from .model import Scenario
from .policy import decide_all, facts_for, resolver, rules_of


def _display(scenario: Scenario, agent: str) -> str | None:
    a = scenario.agents.get(agent)
    return a.display.value if a is not None and a.display is not None else None


def _rel(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def summarize(scenario: Scenario, contract: ir.Contract | str, extra_policies=()) -> dict:
    """Everything an owner needs to decide on `contract`, as JSON-ready data.

    `extra_policies` are `policy.PolicyRule`s registered elsewhere (e.g. in the escrow).
    """
    if isinstance(contract, str):
        contract = scenario.contracts[contract]
    name = contract.name.name
    try:
        ident = identity(scenario, contract)
        identity_hash, functions, identity_error = ident.sha256, ident.functions, None
    except IdentityError as exc:
        identity_hash, functions, identity_error = None, {}, str(exc)

    contributions: dict[str, dict] = {}
    for key in sorted(scenario.source_data(contract)):
        owner = key.split(".", 1)[0]
        entry = contributions.setdefault(
            owner, {"agent": owner, "display": _display(scenario, owner), "data": []}
        )
        d = scenario.data.get(key)
        entry["data"].append(
            {"key": key, "format": d.format.name if d else None, "declared": d is not None}
        )
    kept_inputs = []
    for key in scenario.inputs(contract):
        if key in scenario.kept:
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
    decisions = decide_all({k.split(".", 1)[0] for k in scenario.source_data(contract)}, rules, facts_for(scenario, contract))
    return {
        "contract": name,
        "file": contract.span.file,
        "line": contract.span.line,
        "proposed_by": contract.by.name if contract.by else None,
        "identity": identity_hash,
        "identity_error": identity_error,
        "contributors": list(contributions.values()),
        "kept_inputs": kept_inputs,
        "source_agents": scenario.source_agents(contract),
        "runs": runs,
        "recipients": [{"agent": t.name, "display": _display(scenario, t.name)} for t in contract.to],
        "kept_as": contract.keep_as.name if contract.keep_as else None,
        "conditions": conditions,
        "policies": [d.to_json() | {"explanation": d.explain()} for d in decisions.values()],
        "functions": {
            n: {"origin": f.origin, "module": _rel(f.path, scenario.base_dir) if f.origin == "user" else f.module, "line": f.line, "sha256": f.sha256}
            for n, f in sorted(functions.items())
        },
    }
