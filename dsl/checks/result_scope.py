"""DSC026: `result` exists only inside `ensure`, after the computation has run."""

from __future__ import annotations

from .. import codes, ir
from ..diagnostics import error
from ..symbols import RESULT
from ..walk import ENSURE, contract_exprs

CODES = (codes.RESULT_OUTSIDE_ENSURE,)


def check(ctx):
    for c in ctx.program.contracts:
        for clause, expr in contract_exprs(c):
            if clause == ENSURE or not ctx.symbols.mentions_result(expr):
                continue
            for node, bound in ctx.symbols.walk(expr):
                if isinstance(node, ir.Name) and node.id == RESULT and RESULT not in bound:
                    yield error(codes.RESULT_OUTSIDE_ENSURE, f"'result' cannot be used in '{clause}'", node.span,
                                help="'result' is the computed value: use it in an `ensure` condition")
