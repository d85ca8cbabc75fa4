"""The owner's summary of a contract (`contracts.summary.summarize`) on a terminal, with rich."""

from __future__ import annotations

from pathlib import Path


def _who(agent: str, display: str | None) -> str:
    return f"{agent} ({display})" if display else agent


def _safe(value):
    """The summary with every string fit for a terminal (the proposer wrote its text)."""
    from .common import safe_text

    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    return value


def _identity(f: dict) -> str:
    where = f" {f['module']}" if f.get("module") else ""
    return f"{f['origin']}{where} sha256 {f['sha256'][:16]}…"


def _rule_identities(rule: dict | None) -> list[str]:
    """The functions a policy rule names, each with the identity it matches (`PolicyRule.to_json`)."""
    if not rule:
        return []
    out = [f"names {rule['function']['name']}: {_identity(rule['function'])}"] if rule.get("function") else []
    return out + [f"except {f['name']}: {_identity(f)}" for f in rule.get("except") or ()]


def render_summary(summary: dict, console) -> None:
    """Print a summary with rich (control characters in its text escaped)."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.markup import escape as e
    from rich.text import Text

    s = _safe(summary)
    head = Text()
    head.append(f"contract {s['contract']}", style="bold")
    if s["proposed_by"]:
        head.append(f"  proposed by {s['proposed_by']}")
    head.append(f"\n{s['file']}:{s['line']}", style="dim")
    if s.get("status"):
        head.append(f"\nas proposed to the escrow: {s['status']}", style="dim")
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
    for p in s["policies"]:  # what the deciding rules name: functions, by identity
        for line in _rule_identities(p["rule"]):
            where = f"{Path(p['rule']['file']).name}:{p['rule']['line']}"
            console.print(Text(f"  {p['owner']}'s rule at {where} {line}", style="dim"))

    console.print(Text("Identity", style="bold underline"))
    if s["identity"]:
        console.print(f"  sha256 {s['identity']}")
        for n, f in s["functions"].items():
            console.print(f"  [dim]{e(n)}: {f['origin']} {e(str(f['module']))}:{f['line']} sha256 {f['sha256'][:16]}…[/]")
    else:
        console.print(f"  [red]no identity: {e(s['identity_error'])}[/]")
