"""DSC062: a `goal` that no approvable chain of contracts can reach."""

from __future__ import annotations

from .. import codes
from ..diagnostics import Related, error
from ..policies import contract_decisions

CODES = (codes.GOAL_UNREACHABLE,)


def check(ctx):
    sym = ctx.symbols
    blockers = _Blockers(ctx)
    for goal in ctx.program.goals:
        c = sym.contracts.get(goal.contract.name)
        agent = goal.agent.name
        if c is None or agent not in sym.agents:
            continue  # undefined names are reported elsewhere
        if agent not in {r.name for r in c.to}:
            reason = f"'{agent}' is not a recipient of contract '{c.name.name}'", c.name.span
        else:
            reason = blockers.of(c) or _never_blocks(ctx, c, agent)
        if reason is not None:
            message, span = reason
            yield error(codes.GOAL_UNREACHABLE, f"goal '{agent} receives {c.name.name}' cannot be reached: {message}",
                        goal.span, related=[Related(message=message, span=span)] if span is not None else ())


class _Blockers:
    """Why each contract cannot run (None when it can), memoized and computed without recursion,
    so that a chain of thousands of kept results is checked in linear time."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sym = ctx.symbols
        self.memo: dict[str, tuple | None] = {}

    def _inputs(self, c):
        return [self.sym.kept[k] for k in self.sym.contract_inputs(c) if k in self.sym.kept]

    def _own(self, c):
        """A reason that does not depend on the contract's inputs."""
        if c.call is None:
            return f"contract '{c.name.name}' computes nothing", c.name.span
        for owner, d in contract_decisions(self.sym, c).items():
            if d.effect == "deny":
                return f"the policy of '{owner}' denies contract '{c.name.name}'", d.rule.rule.span
        return None

    def of(self, root):
        stack = [(root, False)]
        open_: set[str] = set()
        while stack:
            c, done = stack.pop()
            name = c.name.name
            if done:
                reason = self._own(c)
                if reason is None:
                    for key in self.sym.contract_inputs(c):
                        producer = self.sym.kept.get(key)
                        if producer is None:
                            continue
                        if producer.name.name in open_ and producer.name.name not in self.memo:
                            inner = (f"contract '{producer.name.name}' depends on its own result", producer.name.span)
                        else:
                            inner = self.memo.get(producer.name.name)
                        if inner is not None:
                            reason = f"its input '{key}' is never produced ({inner[0]})", inner[1]
                            break
                self.memo[name] = reason
                open_.discard(name)
                continue
            if name in self.memo or name in open_:
                continue
            open_.add(name)
            stack.append((c, True))
            stack.extend((p, False) for p in self._inputs(c) if p.name.name not in self.memo and p.name.name not in open_)
        return self.memo[root.name.name]


def _never_blocks(ctx, c, agent: str):
    sym = ctx.symbols
    flowing = {k for key in sym.contract_inputs(c) for k in sym.origins(key)}
    for n in ctx.program.nevers:
        if any(p.matches(agent) for p in n.agents) and any(n.data.matches(*k.split(".", 1)) for k in flowing):
            return "a 'never' constraint forbids that flow", n.span
    return None
