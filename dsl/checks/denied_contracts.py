"""DSC060: a contract that a standing `deny` rule makes unapprovable."""

from __future__ import annotations

from .. import codes
from ..diagnostics import Related, error
from ..policies import contract_decisions

CODES = (codes.DENIED_BY_POLICY,)


def check(ctx):
    for c in ctx.program.contracts:
        for owner, decision in contract_decisions(ctx.symbols, c).items():
            if decision.effect != "deny":
                continue
            yield error(
                codes.DENIED_BY_POLICY,
                f"contract '{c.name.name}' can never be approved: the policy of '{owner}' denies it",
                c.name.span,
                help="change the computation or the recipients, or ask the owner to change the policy",
                related=[Related(message=f"denied by this rule of '{owner}'", span=decision.rule.rule.span)],
            )
