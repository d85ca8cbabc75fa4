"""DSC061: a `never` constraint that some chain of contracts and kept results violates."""

from __future__ import annotations

import networkx as nx

from ..diagnostics import Related, error
from ..flow import flow_view, path_steps

CODES = ("DSC061",)


def check(ctx):
    sym = ctx.symbols
    g = sym.flow_graph()
    view = flow_view(g)
    for n in ctx.program.nevers:
        sources = [("data", k) for k in sorted(sym.data) if n.data.matches(*k.split(".", 1))]
        for agent in sorted(sym.agents):
            if not any(p.matches(agent) for p in n.agents):
                continue
            target = ("agent", agent)
            for src in sources:
                if src not in view or target not in view:
                    continue
                try:
                    path = nx.shortest_path(view, src, target)
                except nx.NetworkXNoPath:
                    continue
                steps = path_steps(g, path)
                chain = " → ".join(f"{kind} {name}" for kind, name in path)
                yield error(
                    "DSC061",
                    f"'never {n.data.owner}.{n.data.name} reaches {agent}' is violated: {chain}",
                    n.span,
                    help="remove the recipient, keep the result inside the escrow, or change the constraint",
                    related=[Related(message=m, span=s) for m, s in steps],
                )
                break  # one path per (constraint, agent) is enough to act on
