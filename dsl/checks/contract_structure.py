"""DSC010-DSC012: a contract must say what runs, where the result goes, and who proposes it."""

from __future__ import annotations

from .. import ir
from ..diagnostics import error

CODES = ("DSC010", "DSC011", "DSC012")


def check(ctx):
    for c in ctx.program.contracts:
        name = c.name.name
        if c.call is None:
            yield error("DSC010", f"contract '{name}' has no 'compute' or 'keep' clause", c.name.span,
                        help="add `compute FUNCTION(...)`, or `keep NAME = FUNCTION(...)` to keep the result in the escrow")
        elif not c.keeps and not c.to:
            yield error("DSC011", f"contract '{name}' releases its result to nobody", c.name.span,
                        help="add `to AGENT, ...`, or use `keep NAME = ...` to keep the result in the escrow")
        if c.by is None:
            yield error("DSC012", f"contract '{name}' does not say who proposes it", c.name.span,
                        help="add `by AGENT`")
