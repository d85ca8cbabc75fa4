"""DSC070 (warning): a data element that no contract reads."""

from __future__ import annotations

from ..diagnostics import Span, warning

CODES = ("DSC070",)


def check(ctx):
    sym = ctx.symbols
    used: set[str] = set()
    for c in ctx.program.contracts:
        used.update(sym.contract_inputs(c))
        used.update(sym.condition_inputs(c))
    for key, d in sym.data.items():
        if key not in used:
            span = Span.cover(d.owner.span, d.name.span)
            yield warning("DSC070", f"data element '{key}' is not used by any contract", span,
                          help="remove it, or use it in a contract")
