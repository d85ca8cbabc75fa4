"""DSC030-DSC032: the modules named by `use` must exist and be valid Python."""

from __future__ import annotations

from ..diagnostics import error, warning

CODES = ("DSC030", "DSC031", "DSC032")


def check(ctx):
    sym = ctx.symbols
    for m in sym.modules:
        span = m.use.path.span
        if m.error is not None:
            if str(m.error) == "file not found":
                yield error("DSC030", f"module '{m.use.path.value}' not found", span,
                            help=f"looked for {m.path}; paths are relative to the .dsc file")
            else:
                where = f" (line {m.error.line})" if m.error.line else ""
                yield error("DSC031", f"module '{m.use.path.value}' cannot be read: {m.error}{where}", span,
                            help="fix the module so that Python can parse it")
            continue
        for name in m.functions:
            if name in sym.builtins:
                yield warning("DSC032", f"function '{name}' in '{m.use.path.value}' hides the built-in of that name",
                              span, help="rename it unless you mean to replace the built-in")
