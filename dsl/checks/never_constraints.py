"""DSC061: a `never` constraint that some chain of contracts and kept results violates."""

from __future__ import annotations

from .. import codes
from ..diagnostics import Related, error
from ..flow import flow_graph, path_steps, shortest_paths_from

CODES = (codes.NEVER_VIOLATED,)


def check(ctx):
    sym = ctx.symbols
    if not ctx.program.nevers:
        return  # no graph to build
    g = flow_graph(sym)
    for n in ctx.program.nevers:
        sources = [("data", k) for k in sorted(sym.data) if n.data.matches(*k.split(".", 1))]
        path_to = shortest_paths_from(g, sources)  # one search per constraint
        for agent in sorted(sym.agents):
            pattern = next((p for p in n.agents if p.matches(agent)), None)
            if pattern is None:
                continue
            path = path_to(("agent", agent))
            if path is None:
                continue
            steps = path_steps(g, path)
            chain = " → ".join(f"{kind} {name}" for kind, name in path)
            yield error(
                codes.NEVER_VIOLATED,
                f"'never {n.data.owner}.{n.data.name} reaches {agent}' is violated: {chain}",
                pattern.span,
                help="remove the recipient, keep the result inside the escrow, or change the constraint",
                related=[Related(message=m, span=s) for m, s in steps],
            )
