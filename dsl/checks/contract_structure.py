"""DSC010-DSC012: a contract must say what runs, where the result goes, and who proposes it."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error

CODES = (codes.COMPUTES_NOTHING, codes.RELEASED_TO_NOBODY, codes.NO_PROPOSER)


def check(ctx):
    for c in ctx.program.contracts:
        name = c.name.name
        if c.call is None:
            yield error(codes.COMPUTES_NOTHING, f"contract '{name}' has no 'compute' or 'keep' clause", c.name.span,
                        help="add `compute FUNCTION(...)`, or `keep NAME = FUNCTION(...)` to keep the result in the escrow")
        elif not c.keeps and not c.to:
            yield error(codes.RELEASED_TO_NOBODY, f"contract '{name}' releases its result to nobody", c.name.span,
                        help="add `to AGENT, ...`, or use `keep NAME = ...` to keep the result in the escrow")
        if c.by is None:
            yield error(codes.NO_PROPOSER, f"contract '{name}' does not say who proposes it", c.name.span,
                        help="add `by AGENT`")
