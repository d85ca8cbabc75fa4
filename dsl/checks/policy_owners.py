"""DSC053-DSC054: a policy belongs to an agent and governs only that agent's data."""

from __future__ import annotations

from .. import codes
from ..diagnostics import error
from ..walk import did_you_mean

CODES = (codes.POLICY_OWNER_NOT_AGENT, codes.RULE_ON_OTHERS_DATA)


def check(ctx):
    sym = ctx.symbols
    for p in ctx.program.policies:
        owner = p.owner.name
        if owner not in sym.agents and owner not in ctx.broken:
            yield error(codes.POLICY_OWNER_NOT_AGENT, f"policy owner '{owner}' is not a declared agent", p.owner.span,
                        help=did_you_mean(owner, sym.agents))
            continue
        for rule in p.rules:
            for d in rule.data:
                if d.owner not in ("*", owner):
                    yield error(codes.RULE_ON_OTHERS_DATA, f"the policy of '{owner}' cannot govern data of '{d.owner}'",
                                d.span,
                                help=f"write `{owner}.{d.name}`, or put the rule in the policy of '{d.owner}'")
