"""The dataflow graph of a program and the questions asked of it (networkx).

Nodes are `(kind, name)` with kind in {"agent", "data", "kept", "contract"}. Flow edges:
data/kept → contract (the computation reads it), contract → kept (keeps its result),
contract → agent (releases to). Ownership edges agent → data carry `flow=False` and are not
followed when asking what data can reach whom.

networkx is imported when a graph is first built, not with this module: a program with no
`never` constraint and no kept result needs no graph, and the import costs more than the
rest of a short `dsc check`.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from .diagnostics import Span
from .symbols import Symbols

if TYPE_CHECKING:
    import networkx as nx

_GRAPHS: "weakref.WeakKeyDictionary[Symbols, nx.DiGraph]" = weakref.WeakKeyDictionary()


def flow_graph(symbols: Symbols) -> nx.DiGraph:
    """The dataflow graph of a symbol table's program, built once per symbol table and shared
    by the rules that ask for it. Do not modify it (copy it first, as `contracts.dataflow` does)."""
    g = _GRAPHS.get(symbols)
    if g is None:
        g = _GRAPHS[symbols] = build_graph(symbols)
    return g


def build_graph(symbols: Symbols) -> nx.DiGraph:
    import networkx as nx

    nodes: list[tuple] = []
    edges: dict[tuple, dict] = {}  # first edge between two nodes wins (its span is the one reported)
    for name, a in symbols.agents.items():
        nodes.append((("agent", name), {"span": a.name.span, "label": a.display.value if a.display else name}))
    for key, d in symbols.data.items():
        nodes.append((("data", key), {"span": d.span, "label": key}))
        if d.owner.name in symbols.agents:
            edges.setdefault((("agent", d.owner.name), ("data", key)),
                             {"flow": False, "span": d.owner.span, "label": "owns"})
    for name, c in symbols.contracts.items():
        cnode = ("contract", name)
        nodes.append((cnode, {"span": c.name.span, "label": name}))
        if c.call is not None:
            for ref in symbols.refs(c.call):
                src = ("kept", ref.key) if ref.kept else ("data", ref.key)
                edges.setdefault((src, cnode), {"flow": True, "span": ref.span, "label": "read by"})
        if c.keep_as is not None:
            kept = ("kept", c.keep_as.name)
            nodes.append((kept, {"span": c.keep_as.span, "label": c.keep_as.name}))
            edges.setdefault((cnode, kept), {"flow": True, "span": c.keep_as.span, "label": "keeps"})
        for r in c.to:
            if r.name in symbols.agents:
                edges.setdefault((cnode, ("agent", r.name)), {"flow": True, "span": r.span, "label": "released to"})
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((u, v, attrs) for (u, v), attrs in edges.items())
    return g


def shortest_paths_from(g: nx.DiGraph, sources: list):
    """Breadth-first search from all `sources` at once, along flow edges only (so `g` may be the
    whole graph: no copy without the ownership edges is needed). Returns `path_to(node)`: a
    shortest path from one of the sources to `node`, or None when no source reaches it."""
    succ = g.succ
    parent: dict = {s: None for s in sources if s in g}
    frontier = list(parent)
    while frontier:
        nxt = []
        for u in frontier:
            for v, attrs in succ[u].items():
                if v not in parent and attrs.get("flow", True):
                    parent[v] = u
                    nxt.append(v)
        frontier = nxt

    def path_to(node) -> list | None:
        if node not in parent:
            return None
        out = [node]
        while parent[out[-1]] is not None:
            out.append(parent[out[-1]])
        return out[::-1]

    return path_to


def describe_node(node: tuple[str, str]) -> str:
    kind, name = node
    return {"data": f"data {name}", "kept": f"kept result {name}", "contract": f"contract {name}",
            "agent": f"agent {name}"}[kind]


def path_steps(g: nx.DiGraph, path: list) -> list[tuple[str, Span]]:
    """Each step of a flow path, as (message, location of the clause that makes it)."""
    steps = []
    for u, v in zip(path, path[1:]):
        edge = g.edges[u, v]
        steps.append((f"{describe_node(u)} {edge['label']} {describe_node(v)}", edge["span"]))
    return steps
