"""DSC063: a kept result cannot be computed from itself."""

from __future__ import annotations

from .. import codes
from ..diagnostics import Related, error
from ..flow import flow_graph, path_steps

CODES = (codes.KEPT_CYCLE,)


def check(ctx):
    if not ctx.symbols.kept:
        return
    import networkx as nx  # only for a program with kept results (dsl/flow.py)

    g = flow_graph(ctx.symbols)
    # A cycle through a kept result only passes kept results and the contracts that keep them
    # (any other contract only releases to agents, and agents send nothing on along flow edges),
    # so only that part of the graph is searched. It holds no ownership edge (agent → data).
    keepers = {u for k in ctx.symbols.kept if ("kept", k) in g for u in g.pred[("kept", k)] if u[0] == "contract"}
    view = g.subgraph(keepers | {("kept", k) for k in ctx.symbols.kept if ("kept", k) in g})
    # One report per strongly connected group of kept results (linear time, however long the chains).
    for component in nx.strongly_connected_components(view):
        kept = sorted(n for n in component if n[0] == "kept")
        if not kept:
            continue
        first = kept[0]
        if len(component) == 1 and not view.has_edge(first, first):
            continue
        cycle = nx.find_cycle(view.subgraph(component), first)
        path = [u for u, _ in cycle] + [cycle[-1][1]]
        producer = ctx.symbols.kept.get(first[1])
        if producer is None:
            continue
        yield error(
            codes.KEPT_CYCLE,
            f"kept result '{first[1]}' depends on itself",
            producer.keep_as.span,
            help="a contract cannot read the result it keeps, directly or through other kept results",
            related=[Related(message=m, span=s) for m, s in path_steps(g, path)],
        )
