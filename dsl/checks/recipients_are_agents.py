"""DSC050: results are released only to declared agents, each named once."""

from __future__ import annotations

from ..diagnostics import error, warning
from ..walk import did_you_mean

CODES = ("DSC050", "DSC059")


def check(ctx):
    sym = ctx.symbols
    for c in ctx.program.contracts:
        seen = set()
        for r in c.to:
            if r.name in seen:
                yield warning("DSC059", f"recipient '{r.name}' is listed twice", r.span, help="remove the repeat")
            seen.add(r.name)
            if r.name in sym.agents or r.name in ctx.broken:
                continue
            what = sym.kind_of(r.name)
            detail = f"is a {what}, not an agent" if what else "is not a declared agent"
            yield error("DSC050", f"recipient '{r.name}' of contract '{c.name.name}' {detail}", r.span,
                        help=did_you_mean(r.name, sym.agents) or "results can only be released to agents")
