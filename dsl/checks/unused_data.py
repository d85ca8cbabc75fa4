"""DSC070 (warning): a data element that no contract reads."""

from __future__ import annotations

from .. import codes
from ..diagnostics import Span, warning

CODES = (codes.UNUSED_DATA,)


def check(ctx):
    if ctx.has_syntax_errors:
        return  # an item that did not parse may be the one using it
    sym = ctx.symbols
    used: set[str] = set()
    for c in ctx.program.contracts:
        used.update(sym.contract_inputs(c))
        used.update(sym.condition_inputs(c))
    for key, d in sym.data.items():
        if key not in used and d.owner.name in sym.agents:  # an unknown owner is already an error
            span = Span.cover(d.owner.span, d.name.span)
            yield warning(codes.UNUSED_DATA, f"data element '{key}' is not used by any contract", span,
                          help="remove it, or use it in a contract")
