"""DSC052: the `by` of a contract is a declared agent."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error
from ..walk import did_you_mean

CODES = (codes.PROPOSER_NOT_AGENT,)


def check(ctx):
    sym = ctx.symbols
    for c in ctx.program.contracts:
        if c.by is None or c.by.name in sym.agents or c.by.name in ctx.broken:
            continue
        what = sym.kind_of(c.by.name)
        detail = f"is a {what}, not an agent" if what else "is not a declared agent"
        yield error(codes.PROPOSER_NOT_AGENT, f"the proposer '{c.by.name}' of contract '{c.name.name}' {detail}", c.by.span,
                    help=did_you_mean(c.by.name, sym.agents))
