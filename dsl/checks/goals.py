"""DSC062: a `goal` that no approvable chain of contracts can reach."""

from __future__ import annotations

from ..diagnostics import Related, error
from ..policies import contract_decisions

CODES = ("DSC062",)


def check(ctx):
    sym = ctx.symbols
    for goal in ctx.program.goals:
        c = sym.contracts.get(goal.contract.name)
        if c is None or goal.agent.name not in sym.agents:
            continue  # undefined names are reported elsewhere
        reason = _blocker(ctx, c, goal.agent.name, set())
        if reason is not None:
            message, span = reason
            yield error("DSC062", f"goal '{goal.agent.name} receives {c.name.name}' cannot be reached: {message}",
                        goal.span, related=[Related(message=message, span=span)] if span is not None else ())


def _blocker(ctx, c, agent: str | None, seen: set):
    """Why contract `c` cannot deliver (to `agent`, when given), or None if it can."""
    sym = ctx.symbols
    if c.name.name in seen:
        return f"contract '{c.name.name}' depends on its own result", c.name.span
    seen = seen | {c.name.name}
    if agent is not None and agent not in {r.name for r in c.to}:
        return f"'{agent}' is not a recipient of contract '{c.name.name}'", c.name.span
    if c.call is None:
        return f"contract '{c.name.name}' computes nothing", c.name.span
    for owner, d in contract_decisions(sym, c).items():
        if d.effect == "deny":
            return f"the policy of '{owner}' denies contract '{c.name.name}'", d.rule.span
    for key in sym.contract_inputs(c):
        producer = sym.kept.get(key)
        if producer is not None:
            inner = _blocker(ctx, producer, None, seen)
            if inner is not None:
                return f"its input '{key}' is never produced ({inner[0]})", inner[1]
    if agent is not None:
        flowing = {k for key in sym.contract_inputs(c) for k in sym.origins(key)}
        for n in ctx.program.nevers:
            if any(p.matches(agent) for p in n.agents) and any(n.data.matches(*k.split(".", 1)) for k in flowing):
                return f"a 'never' constraint forbids that flow", n.span
    return None
