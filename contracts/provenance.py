"""Provenance: the lineage of derived data elements, with networkx.

Nodes are data element keys: originals are "owner.name", derived (kept) results are their
bare kept names. An edge `derived -> input` says the derived element was computed from
that input. A derived element's origins are the originals reachable from it; its owners
(the agents whose approval any use of it needs) are the owners of those origins.
"""

from __future__ import annotations

from typing import Iterable

import networkx as nx


def is_original(key: str) -> bool:
    return "." in key


def owner_of(key: str) -> str:
    return key.split(".", 1)[0]


class Lineage:
    def __init__(self):
        self.graph = nx.DiGraph()

    def add_original(self, key: str) -> None:
        self.graph.add_node(key, original=True)

    def add_derived(self, key: str, inputs: Iterable[str], contract: str | None = None) -> None:
        """Record that `key` was computed from `inputs` (by `contract`)."""
        inputs = list(inputs)
        if key in inputs:
            raise ValueError(f"'{key}' cannot be derived from itself")
        if key in self.graph and any(src in self.graph and nx.has_path(self.graph, src, key) for src in inputs):
            raise ValueError(f"deriving '{key}' from {inputs} would make a provenance cycle")
        self.graph.add_node(key, original=False, contract=contract)
        for src in inputs:
            if src not in self.graph:
                self.graph.add_node(src, original=is_original(src))
            self.graph.add_edge(key, src)

    def origins(self, key: str) -> frozenset[str]:
        """The original data elements `key` comes from (itself if it is an original)."""
        if key not in self.graph:
            return frozenset({key}) if is_original(key) else frozenset()
        reach = nx.descendants(self.graph, key) | {key}
        return frozenset(k for k in reach if self.graph.nodes[k].get("original", is_original(k)))

    def origins_of(self, keys: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for k in keys:
            out |= self.origins(k)
        return frozenset(out)

    def owners(self, keys: Iterable[str]) -> frozenset[str]:
        """Source agents: the owners of the originals behind `keys`."""
        return frozenset(owner_of(k) for k in self.origins_of(keys))

    def path(self, key: str, original: str) -> list[str]:
        """One chain of derivations from `key` down to `original` (for explanations)."""
        try:
            return nx.shortest_path(self.graph, key, original)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return []

    @classmethod
    def from_scenario(cls, scenario) -> "Lineage":
        """The lineage a .dsc program declares through its `keep` contracts."""
        lin = cls()
        for key in scenario.data:
            lin.add_original(key)
        for name, contract in scenario.kept.items():
            try:
                lin.add_derived(name, scenario.inputs(contract), contract.name.name)
            except ValueError:
                pass  # a cycle between kept results: the checker reports it
        return lin
