"""DSC040-DSC043: computations and conditions must be well typed; conditions must be booleans."""

from __future__ import annotations

from .. import codes, types as T
from ..diagnostics import error
from ..infer import Inference
from ..walk import COMPUTE, ENSURE, KEEP, contract_exprs

CODES = (codes.NOT_A_CONDITION, codes.OPERAND_TYPES, codes.ARGUMENT_TYPE, codes.FOR_NOT_A_LIST)


def check(ctx):
    sym = ctx.symbols
    for c in ctx.program.contracts:
        result_type = T.ANY
        if c.call is not None and c.call.func.name in sym.functions:
            result_type = sym.functions[c.call.func.name].returns
        for clause, expr in contract_exprs(c):
            # `result` outside `ensure` is reported by result_scope; typing it there would only add noise.
            inf = Inference(sym, result_type if clause == ENSURE else T.ANY)
            t = inf.infer(expr)
            if clause not in (COMPUTE, KEEP) and not T.assignable(t, T.BOOL):
                inf.diagnostics.append(
                    error(codes.NOT_A_CONDITION, f"'{clause}' needs a condition (true or false), got {T.describe(t)}",
                          expr.span,
                          help="compare the value with something, e.g. `rows(x) >= 100`")
                )
            yield from inf.diagnostics
