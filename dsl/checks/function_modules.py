"""DSC030-DSC032: the modules named by `use` must exist, be valid Python, and define no
function with the name of a built-in (a standing policy that allows the built-in `schema`
must never be read as allowing someone's own `schema`)."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error

CODES = (codes.MODULE_NOT_FOUND, codes.MODULE_NOT_PYTHON, codes.HIDES_BUILTIN)


def check(ctx):
    sym = ctx.symbols
    for m in sym.modules:
        span = m.use.path.span
        if m.error is not None:
            if str(m.error) == "file not found":
                yield error(codes.MODULE_NOT_FOUND, f"module '{m.use.path.value}' not found", span,
                            help=f"looked for {m.path}; paths are relative to the .dsc file")
            else:
                where = f" (line {m.error.line})" if m.error.line else ""
                yield error(codes.MODULE_NOT_PYTHON, f"module '{m.use.path.value}' cannot be read: {m.error}{where}", span,
                            help="fix the module so that Python can parse it")
            continue
        for name in m.functions:
            if name in sym.builtins:
                yield error(codes.HIDES_BUILTIN,
                            f"function '{name}' in '{m.use.path.value}' has the name of a built-in",
                            span, help="rename it: a user function may not take the place of a built-in")
