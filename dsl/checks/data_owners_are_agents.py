"""DSC051: every data element is owned by a declared agent."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error
from ..walk import did_you_mean

CODES = (codes.OWNER_NOT_AGENT,)


def check(ctx):
    sym = ctx.symbols
    for d in ctx.program.data:
        owner = d.owner.name
        if owner in sym.agents or owner in ctx.broken:
            continue
        what = sym.kind_of(owner)
        detail = f"is a {what}, not an agent" if what else "is not a declared agent"
        yield error(codes.OWNER_NOT_AGENT, f"the owner '{owner}' of '{d.qualified}' {detail}", d.owner.span,
                    help=did_you_mean(owner, sym.agents) or f"declare it: agent {owner} \"...\"")
