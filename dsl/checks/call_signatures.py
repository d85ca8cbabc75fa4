"""DSC033-DSC036: call arguments must fit the function's signature."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error
from ..walk import closest, contract_exprs, did_you_mean

CODES = (codes.UNKNOWN_KEYWORD, codes.MISSING_ARGUMENT, codes.TOO_MANY_POSITIONAL, codes.ARGUMENT_TWICE)


def check(ctx):
    functions = ctx.symbols.functions
    for c in ctx.program.contracts:
        for _clause, expr in contract_exprs(c):
            for call in ctx.symbols.calls(expr):
                sig = functions.get(call.func.name)
                if sig is None:
                    continue  # reported as undefined
                b = ctx.symbols.binding(call)
                if not (b.unknown or b.duplicate or b.extra_positional or b.missing):
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
                b.missing = [p for p in b.missing if p.name not in misspelled]
                for kw in b.duplicate:
                    yield error(codes.ARGUMENT_TWICE, f"argument '{kw.name.name}' is given more than once", kw.name.span,
                                help=f"signature: {sig.signature_text()}")
                if b.extra_positional:
                    n = len([p for p in sig.params if p.kind == "positional"])
                    yield error(codes.TOO_MANY_POSITIONAL,
                                f"'{call.func.name}' takes {n} positional argument{'s' if n != 1 else ''}, "
                                f"{len(call.args)} given", b.extra_positional[0].span,
                                help=f"signature: {sig.signature_text()}")
                if b.missing:
                    listed = ", ".join(f"'{p.name}'" for p in b.missing)
                    yield error(codes.MISSING_ARGUMENT,
                                f"call to '{call.func.name}' is missing argument{'s' if len(b.missing) > 1 else ''} {listed}",
                                call.span, help=f"signature: {sig.signature_text()}")

