"""The IR's child table describes every expression node, and the one walk follows it."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from datastation.dsl import ir
from datastation.dsl.parser import parse
from datastation.dsl.walk import contract_exprs, walk_list

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(ROOT.glob("examples/**/*.dsc")) + sorted((ROOT / "tests" / "corpus" / "valid").glob("*.dsc"))
NODE_TYPES = set(typing.get_args(ir.Expr)) | {ir.Keyword}


def _holds_nodes(hint) -> bool:
    if hint in NODE_TYPES:
        return True
    return any(_holds_nodes(a) for a in typing.get_args(hint) if a is not Ellipsis)


def test_every_expression_node_is_in_the_table():
    assert set(ir.CHILDREN) == NODE_TYPES


@pytest.mark.parametrize("cls", sorted(NODE_TYPES, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_the_table_lists_exactly_the_fields_that_hold_nodes_in_order(cls):
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls) if _holds_nodes(hints[f.name])]
    assert list(ir.CHILDREN[cls]) == fields


def _expr(text: str) -> ir.Expr:
    r = parse(f"contract c {{ require {text} }}", "c.dsc")
    assert not r.diagnostics, r.diagnostics
    return r.program.contracts[0].requires[0]


def _preorder(e) -> list:
    return [e] + [n for c in ir.children(e) for n in _preorder(c)]


def _exprs():
    for path in PROGRAMS:
        for c in parse(path.read_text(encoding="utf-8"), str(path)).program.contracts:
            for _, e in contract_exprs(c):
                yield e
    yield _expr('for b in [x, y]: f(b.t, -1, k = [a.u, "s"], j = not q) >= 2 * (r - 1) or (p).z')


def test_walk_is_the_preorder_of_the_table():
    n = 0
    for e in _exprs():
        walked = [node for node, _ in walk_list(e)]
        assert walked == _preorder(e)
        assert all(type(node) is not ir.Keyword for node in walked)
        n += 1
    assert n >= 50


def test_quantifier_variables_are_in_scope_in_the_body_only():
    e = _expr("for b in [b, c]: f(b.t) and (for d in [b]: g(d))")
    scopes = {(type(n).__name__, getattr(n, "id", None)): s for n, s in walk_list(e)}
    assert dict(scopes[("Name", "c")]) == {}  # in the iterable: nothing bound yet
    assert set(scopes[("Name", "d")]) == {"b", "d"}
    assert isinstance(scopes[("Name", "d")]["d"], ir.ForAll)


def test_bind_and_expand():
    e = _expr("for b in [x, y]: b.t > 0")
    bound = [s for n, s in walk_list(e, bind=lambda f, s: [i.id for i in f.iterable.items]) if type(n) is ir.Attribute]
    assert [dict(s) for s in bound] == [{"b": ["x", "y"]}]
    each = [s["b"] for n, s in walk_list(e, bind=lambda f, s: [i.id for i in f.iterable.items], expand=True)
            if type(n) is ir.Attribute]
    assert each == ["x", "y"]


def test_a_long_chain_walks_without_recursion():
    e = _expr(" and ".join(f"x{i} > {i}" for i in range(5000)))
    assert len(walk_list(e)) == 3 * 5000 + 4999
