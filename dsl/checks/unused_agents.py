"""DSC071 (warning): an agent that nothing in the program mentions."""

from __future__ import annotations

from .. import codes, ir
from ..diagnostics import warning
from ..walk import contract_exprs

CODES = (codes.UNUSED_AGENT,)


def check(ctx):
    if ctx.has_syntax_errors:
        return  # an item that did not parse may be the one using it
    sym = ctx.symbols
    used: set[str] = set()
    for d in ctx.program.data:
        used.add(d.owner.name)
    for c in ctx.program.contracts:
        if c.by is not None:
            used.add(c.by.name)
        used.update(r.name for r in c.to)
    for p in ctx.program.policies:
        used.add(p.owner.name)
        used.update(a.value for r in p.rules for a in r.to)
    for n in ctx.program.nevers:
        used.update(a.value for a in n.agents)
        used.add(n.data.owner)
    for g in ctx.program.goals:
        used.add(g.agent.name)
    # Names in expressions last, and only while some agent is still unmentioned.
    unmentioned = sym.agents.keys() - used
    Name = ir.Name
    for c in ctx.program.contracts:
        if not unmentioned:
            break
        for _clause, expr in contract_exprs(c):
            unmentioned.difference_update([node.id for node, _ in sym.walk(expr) if type(node) is Name])
    used.update(sym.agents.keys() - unmentioned)
    for name, a in sym.agents.items():
        if name not in used:
            yield warning(codes.UNUSED_AGENT, f"agent '{name}' takes part in nothing", a.name.span,
                          help="remove it, or give it data, a contract or a result")
