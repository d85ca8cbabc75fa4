"""DSC030-DSC032: the modules named by `use` must exist and be valid Python."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error, warning

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
                yield warning(codes.HIDES_BUILTIN,
                              f"function '{name}' in '{m.use.path.value}' hides the built-in of that name",
                              span, help="rename it unless you mean to replace the built-in")
