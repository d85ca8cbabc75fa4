"""DSC013: a contract must read some data element, directly or through a kept result.

Its approvers are the owners of the data it reads: a contract that reads none would need
nobody's approval, and its function would run in the escrow on nobody's say-so.
"""

from __future__ import annotations

from .. import codes
from ..diagnostics import error

CODES = (codes.READS_NO_DATA,)


def check(ctx):
    sym = ctx.symbols
    for c in ctx.program.contracts:
        if c.call is None:
            continue  # DSC010 says so
        exprs = (c.call, *c.requires, *c.ensures)
        if any(sym.may_have_unknown_names(e) for e in exprs):
            continue  # an undefined name may be the data it meant (reported as undefined)
        if sym.source_data(c):
            continue
        yield error(codes.READS_NO_DATA, f"contract '{c.name.name}' reads no data, so no owner would approve it",
                    c.name.span,
                    help="a contract is approved by the owners of the data it reads: bind a data element "
                         "(`owner.name`) or a kept result in its computation or its conditions")
