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
from .policy import decide_all, facts_for, rules_of


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
    rules = rules_of(p for ps in scenario.policies.values() for p in ps) + list(extra_policies)
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


def _who(agent: str, display: str | None) -> str:
    return f"{agent} ({display})" if display else agent


def render(summary: dict, console) -> None:
    """Print a summary with rich."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.markup import escape as e
    from rich.text import Text

    s = summary
    head = Text()
    head.append(f"contract {s['contract']}", style="bold")
    if s["proposed_by"]:
        head.append(f"  proposed by {s['proposed_by']}")
    head.append(f"\n{s['file']}:{s['line']}", style="dim")
    if s["identity"]:
        head.append(f"\nidentity {s['identity']}", style="cyan")
    console.print(Panel(head, expand=False))

    console.print(Text("Who contributes which data", style="bold underline"))
    if not s["contributors"]:
        console.print("  (no data)")
    for c in s["contributors"]:
        keys = ", ".join(d["key"] for d in c["data"])
        console.print(e(f"  • {_who(c['agent'], c['display'])}: {keys}"))
    for k in s["kept_inputs"]:
        console.print(
            f"  • kept result [bold]{e(k['name'])}[/] (kept by contract {e(k['kept_by'])}) comes from "
            + e(", ".join(k["sources"]) or "nothing")
        )
    console.print(f"  must approve: {', '.join(s['source_agents']) or 'nobody'}")

    console.print(Text("What runs", style="bold underline"))
    r = s["runs"]
    if r:
        where = f"{r['module']}:{r['line']}" if r["module"] else "not found"
        console.print(f"  {e(r['function'])}  [dim]({r['origin'] or '?'} function, {e(where)})[/]")
        for a in r["arguments"]:
            console.print(Text(f"    {a['name'] + ' = ' if a['name'] else ''}{a['value']}"))

    console.print(Text("Who receives what", style="bold underline"))
    for t in s["recipients"]:
        console.print(e(f"  • {_who(t['agent'], t['display'])} receives the result"))
    if s["kept_as"]:
        also = "a copy also goes to the recipients above" if s["recipients"] else "released to nobody by this contract"
        console.print(f"  • kept in the escrow as [bold]{e(s['kept_as'])}[/] ({also})")
    if not s["recipients"] and not s["kept_as"]:
        console.print("  nobody")

    console.print(Text("Conditions", style="bold underline"))
    if not s["conditions"]:
        console.print("  (none)")
    for c in s["conditions"]:
        label = "require (before running)" if c["kind"] == "require" else "ensure (on the result)"
        console.print(f"  line {c['line']}: {label}")
        console.print(Text(f"    {c['condition']}"))

    console.print(Text("Standing policies", style="bold underline"))
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("owner")
    table.add_column("decision")
    table.add_column("rule")
    for p in s["policies"]:
        effect = {"allow": "[green]approves[/]", "deny": "[red]denies[/]"}.get(p["effect"], "decides by hand")
        rule = f"{p['rule']['rule']}  ({Path(p['rule']['file']).name}:{p['rule']['line']})" if p["rule"] else ""
        table.add_row(p["owner"], effect, Text(rule))
    console.print(table)

    console.print(Text("Identity", style="bold underline"))
    if s["identity"]:
        console.print(f"  sha256 {s['identity']}")
        for n, f in s["functions"].items():
            console.print(f"  [dim]{e(n)}: {f['origin']} {e(str(f['module']))}:{f['line']} sha256 {f['sha256'][:16]}…[/]")
    else:
        console.print(f"  [red]no identity: {e(s['identity_error'])}[/]")
