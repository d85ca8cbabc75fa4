"""DSC033-DSC037: call arguments must fit the function's signature (bound as Python binds them)."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error
from ..walk import closest, contract_exprs, did_you_mean

CODES = (codes.UNKNOWN_KEYWORD, codes.MISSING_ARGUMENT, codes.TOO_MANY_POSITIONAL, codes.ARGUMENT_TWICE,
         codes.POSITIONAL_ONLY_BY_KEYWORD)


def check(ctx):
    functions = ctx.symbols.functions
    for c in ctx.program.contracts:
        for _clause, expr in contract_exprs(c):
            for call in ctx.symbols.calls(expr):
                sig = functions.get(call.func.name)
                if sig is None:
                    continue  # reported as undefined
                b = ctx.symbols.binding(call)
                if b.fits:
                    continue
                names = [p.name for p in sig.params if p.kind in ("positional", "keyword_only")]
                misspelled = set()
                for kw in b.unknown:
                    close = closest(kw.name.name, names)
                    if close is not None:
                        misspelled.add(close)
                    yield error(codes.UNKNOWN_KEYWORD, f"'{call.func.name}' has no parameter '{kw.name.name}'", kw.name.span,
                                help=did_you_mean(kw.name.name, names) or f"signature: {sig.signature_text()}")
                # A misspelled keyword (`lable = ...`) is one mistake: do not also report `label` as missing.
                missing = [p for p in b.missing if p.name not in misspelled]
                for kw in b.positional_only:
                    yield error(codes.POSITIONAL_ONLY_BY_KEYWORD,
                                f"'{kw.name.name}' is a positional-only parameter of '{call.func.name}': "
                                "it cannot be passed by keyword", kw.name.span,
                                help=f"pass it by position, before any keyword argument "
                                     f"(signature: {sig.signature_text()})")
                for kw in b.duplicate:
                    yield error(codes.ARGUMENT_TWICE, f"argument '{kw.name.name}' is given more than once", kw.name.span,
                                help=f"signature: {sig.signature_text()}")
                if b.extra_positional:
                    n = len([p for p in sig.params if p.kind in ("positional_only", "positional")])
                    yield error(codes.TOO_MANY_POSITIONAL,
                                f"'{call.func.name}' takes {n} positional argument{'s' if n != 1 else ''}, "
                                f"{len(call.args)} given", b.extra_positional[0].span,
                                help=f"signature: {sig.signature_text()}")
                if missing:
                    listed = ", ".join(f"'{p.name}'" for p in missing)
                    help_text = f"signature: {sig.signature_text()}"
                    # `f(data = x)` with `def f(data, /, **kw)`: Python puts `data` in `**kw`.
                    caught = [p.name for p in missing if p.kind == "positional_only" and f"**{p.name}" in b.bound]
                    if caught:
                        help_text = (f"'{caught[0]}' is positional-only: pass it by position (by keyword it only "
                                     f"fills **{b.bound[f'**{caught[0]}'][0].name}); {help_text}")
                    yield error(codes.MISSING_ARGUMENT,
                                f"call to '{call.func.name}' is missing argument{'s' if len(missing) > 1 else ''} {listed}",
                                call.span, help=help_text)

