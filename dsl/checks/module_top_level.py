"""DSC038: top-level code of a `use` module outside every function's identity.

The escrow runs a function as its closure (imports, the top-level definitions it uses, the
`def`): exactly what its identity hashes. Other top-level code would run on an ordinary import
but never in the escrow, so the module's meaning could hang on code no identity covers. What
may stand at top level is listed in `datastation.dsl.module_code`.
"""

from __future__ import annotations

from .. import codes
from ..diagnostics import Related, Span, error

CODES = (codes.CODE_OUTSIDE_IDENTITY,)


def check(ctx):
    for m in ctx.symbols.modules:
        for s in m.outside:
            where = Span(str(m.path), s.line, s.column, s.end_line, s.end_column)
            yield error(
                codes.CODE_OUTSIDE_IDENTITY,
                f"module '{m.use.path.value}' line {s.line}: {s.what} at top level is outside every "
                f"function's identity",
                m.use.path.span,
                help="a module may hold at top level only imports, `def`, `class`, constant assignments and "
                     "a docstring: move this code into a function (the escrow runs only a function's closure)",
                related=[Related(message=f"{s.what} at top level", span=where)],
            )
