"""DSC064: a policy rule names a function that is neither a built-in nor a function of a module
this file `use`s.

When its owner applies a policy, the escrow resolves every function the policy names in the
owner's own file and records it with its identity; a standing rule can then only ever match
that function. A name that resolves to nothing would otherwise wait for the first proposer to
define a function of that name.
"""

from __future__ import annotations

from .. import codes
from ..diagnostics import error
from ..walk import did_you_mean

CODES = (codes.POLICY_UNKNOWN_FUNCTION,)


def check(ctx):
    sym = ctx.symbols
    if "use" in ctx.broken or any(m.error is not None for m in sym.modules):
        return  # a missing or broken module is reported once (DSC030/DSC031)
    for p in ctx.program.policies:
        for rule in p.rules:
            named = [] if rule.function.is_wildcard else [(rule.function.value, rule.function.span)]
            named += [(e.name, e.span) for e in rule.except_]
            for name, span in named:
                if name not in sym.functions:
                    yield error(codes.POLICY_UNKNOWN_FUNCTION,
                                f"policy of '{p.owner.name}' names an unknown function '{name}'", span,
                                help=did_you_mean(name, sym.functions)
                                or "a policy names a built-in or a function of a module this file `use`s")
