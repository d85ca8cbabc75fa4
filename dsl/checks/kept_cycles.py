"""DSC063: a kept result cannot be computed from itself."""

from __future__ import annotations

import networkx as nx

from ..diagnostics import Related, error
from ..flow import flow_view, path_steps

CODES = ("DSC063",)


def check(ctx):
    g = ctx.symbols.flow_graph()
    view = flow_view(g)
    reported = set()
    for name, producer in ctx.symbols.kept.items():
        node = ("kept", name)
        if name in reported or node not in g:
            continue
        try:
            cycle = nx.find_cycle(view, node)
        except nx.NetworkXNoCycle:
            continue
        path = [u for u, _ in cycle] + [cycle[-1][1]]
        if node not in path:
            continue
        members = {n[1] for n in path if n[0] == "kept"}
        reported |= members
        yield error(
            "DSC063",
            f"kept result '{name}' depends on itself",
            producer.keep_as.span,
            help="a contract cannot read the result it keeps, directly or through other kept results",
            related=[Related(message=m, span=s) for m, s in path_steps(g, path)],
        )
