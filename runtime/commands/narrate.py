"""Human accounts of what the escrow did: used by `dsc execute` and `dsc run`.

They show only what a report may carry before release (see `contracts/conditions.py`): the
compared values are already numbers from built-ins, literals, or descriptions by type and
shape; errors are already described without data.
"""

from __future__ import annotations

from rich.markup import escape as e


def _v(x) -> str:
    from datastation.contracts.conditions import show

    return show(x)


def condition_lines(c, values: bool = True) -> list[str]:
    mark = "[green]✓ held[/]" if c.held else "[red]✗ did not hold[/]"
    lines = [f"{c.kind} (line {c.line}) {mark}: {e(c.text)}"]
    for cmp_ in c.comparisons if values else ():
        sym = "✓" if cmp_.held else "✗"
        lines.append(f"    {sym} {e(cmp_.text)}: {e(_v(cmp_.left))} vs {e(_v(cmp_.right))}")
    if c.error:
        lines.append(f"    [red]error: {e(c.error)}[/]")
    return lines


def report_lines(rep, values: bool = True) -> list[str]:
    """The account of one execution (an `execution.ExecutionReport`); `values` shows compared values."""
    out = []
    for c in rep.conditions:
        out += condition_lines(c, values)
    if rep.reads:
        out.append(f"read: {e(', '.join(rep.reads))}")
    if rep.status == "executed":
        for r, p in rep.releases:
            out.append(f"[green]released[/] to {e(r)}: {e(p)}")
        if rep.kept:
            out.append(f"[green]kept[/] in the escrow as {e(rep.kept)} (a derived data element, released to nobody)")
    elif rep.status == "short_circuit":
        what = f"{e(rep.blocked or 'an access outside the contract refused')} by the escrow"
        out.append(f"[red]short-circuit[/]: {what}; it was stopped at once and [bold]nothing was released[/]")
    elif rep.status == "failed":
        bad = rep.failed_condition
        where = f"the {bad.kind} at line {bad.line}" if bad else "a condition"
        out.append(f"[red]nothing released[/]: {where} did not hold" + (f" ({e(bad.error)})" if bad and bad.error else ""))
    else:
        out.append(f"[red]nothing released[/]: {e(rep.error or rep.status)}")
    return out
