"""Imports follow the architecture: no cycles between the modules of `dsl/`, and `dsl/` and
`stdlib/` import neither `contracts/` nor `runtime/` (DESIGN.md, "Architecture").

Every import counts, those inside functions too: a lazy import still ties two modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"dsl": "datastation.dsl", "stdlib": "datastation.stdlib", "contracts": "datastation.contracts",
           "runtime": "datastation.runtime"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = [FOLDERS[rel.parts[0]], *rel.with_suffix("").parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(folder: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / folder).rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that the module `name` imports (`from pkg import mod` names `pkg.mod`,
    not `pkg`: a package's `__init__` runs first, but is not what is asked for)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for a in node.names:  # a submodule, else a name defined by the module `base`
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base)
    return {m for m in out if m in known and m != name}


def _graph(folders) -> nx.DiGraph:
    modules: dict[str, Path] = {}
    for f in folders:
        modules.update(_modules(f))
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for name, path in modules.items():
        g.add_edges_from((name, dep) for dep in _imports(name, path, set(modules)))
    return g


def test_no_import_cycles_in_dsl():
    g = _graph(["dsl"])
    assert g.number_of_edges() > 50  # the graph was read
    cycles = [c for c in nx.simple_cycles(g)]
    assert not cycles, cycles


@pytest.mark.parametrize("folder", ["dsl", "stdlib"])
def test_dsl_and_stdlib_import_neither_contracts_nor_runtime(folder):
    g = _graph([folder, "contracts", "runtime"])
    bad = [(a, b) for a, b in g.edges
           if a.startswith(FOLDERS[folder]) and b.startswith(("datastation.contracts", "datastation.runtime"))]
    assert not bad, bad

