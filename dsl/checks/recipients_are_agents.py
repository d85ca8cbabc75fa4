"""DSC050: results are released only to declared agents, each named once."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error, warning
from ..walk import did_you_mean

CODES = (codes.RECIPIENT_NOT_AGENT, codes.DUPLICATE_RECIPIENT)


def check(ctx):
    sym = ctx.symbols
    for c in ctx.program.contracts:
        seen = set()
        for r in c.to:
            if r.name in seen:
                yield warning(codes.DUPLICATE_RECIPIENT, f"recipient '{r.name}' is listed twice", r.span,
                              help="remove the repeat")
            seen.add(r.name)
            if r.name in sym.agents or r.name in ctx.broken:
                continue
            what = sym.kind_of(r.name)
            detail = f"is a {what}, not an agent" if what else "is not a declared agent"
            yield error(codes.RECIPIENT_NOT_AGENT, f"recipient '{r.name}' of contract '{c.name.name}' {detail}", r.span,
                        help=did_you_mean(r.name, sym.agents) or "results can only be released to agents")
