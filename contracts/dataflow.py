"""The dataflow graph of a program as Graphviz DOT: agents, data, contracts, kept results.

Built on the checker's flow graph (`datastation.dsl.flow`), with the data a contract's
conditions read added as dashed "checked by" edges (`dsc graph` renders it with Graphviz).
"""

from __future__ import annotations

import networkx as nx

_SHAPES = {
    "agent": 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
    "data": 'shape=cylinder, style=filled, fillcolor="#fef3c7"',
    "kept": 'shape=cylinder, style="filled,dashed", fillcolor="#fde68a"',
    "contract": 'shape=box, style="rounded,filled", fillcolor="#dcfce7"',
}



def build(scenario) -> nx.DiGraph:
    """The flow graph, plus condition reads (edge attribute kind="condition")."""
    from datastation.dsl.flow import build_graph
    from datastation.dsl.symbols import Symbols

    symbols = scenario.symbols or Symbols(scenario.program, scenario.base_dir)
    g = build_graph(symbols).copy()
    for u, v, attrs in g.edges(data=True):
        attrs["kind"] = {"owns": "owns", "read by": "input", "keeps": "keeps", "released to": "release"}.get(
            attrs.get("label"), "flow"
        )
    for name, c in scenario.contracts.items():
        cnode = ("contract", name)
        for key in scenario.condition_inputs(c):
            src = ("kept", key) if key in scenario.kept else ("data", key)
            if src in g and not g.has_edge(src, cnode):
                g.add_edge(src, cnode, flow=False, label="checked by", kind="condition")
    return g


def neighbourhood(g: nx.DiGraph, contract: str) -> nx.DiGraph:
    """The part of the graph one contract touches: its inputs and the data its conditions read,
    their owners, what it keeps and whom it releases to."""
    cnode = ("contract", contract)
    if cnode not in g:
        return nx.DiGraph()
    nodes = {cnode, *g.predecessors(cnode), *g.successors(cnode)}
    for n in list(nodes):
        if n[0] in ("data", "kept"):
            nodes |= {p for p in g.predecessors(n) if p[0] == "agent"}
    return g.subgraph(nodes).copy()


def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_id(node) -> str:
    kind, name = node
    return _q(f"{kind}:{name}")


def to_dot(g: nx.DiGraph, title: str = "dataflow") -> str:
    """Deterministic DOT text for the graph (nodes and edges sorted)."""
    lines = [f"digraph {_q(title)} {{", "  rankdir=LR;", '  node [fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];']
    for node in sorted(g.nodes):
        kind, name = node
        label = g.nodes[node].get("label", name)
        if kind == "agent" and label != name:
            label = f"{name}\n{label}"
        if kind == "kept":
            label = f"{name}\n(kept)"
        lines.append(f"  {node_id(node)} [label={_q(label)}, {_SHAPES.get(kind, 'shape=box')}];")
    for u, v in sorted(g.edges):
        attrs = g.edges[u, v]
        kind = attrs.get("kind")
        style = {
            "owns": "style=dotted, arrowhead=none, color=gray50",
            "condition": "style=dashed, color=gray40",
            "release": "color=darkgreen, penwidth=2",
            "keeps": "color=darkorange",
        }.get(kind, "")
        label = _q(attrs.get("label", ""))
        lines.append(f"  {node_id(u)} -> {node_id(v)} [label={label}{', ' + style if style else ''}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
