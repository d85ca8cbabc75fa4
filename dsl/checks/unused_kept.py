"""DSC072 (warning): a kept result that no contract reads and nobody receives."""

from __future__ import annotations

from .. import codes
from ..diagnostics import warning

CODES = (codes.UNUSED_KEPT,)


def check(ctx):
    if ctx.has_syntax_errors:
        return  # an item that did not parse may be the one using it
    sym = ctx.symbols
    read: set[str] = set()
    for c in ctx.program.contracts:
        read.update(sym.contract_inputs(c))
        read.update(sym.condition_inputs(c))
    for name, producer in sym.kept.items():
        if name not in read and not producer.to:
            yield warning(codes.UNUSED_KEPT, f"kept result '{name}' is never used", producer.keep_as.span,
                          help="use it in a later contract, release it with `to`, or use `compute`")
