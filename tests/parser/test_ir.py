"""The IR: frozen, slotted, keyword-only dataclasses whose spans do not take part in equality."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from datastation.dsl import ir
from datastation.dsl.diagnostics import Span
from datastation.dsl.parser import parse

NODES = [obj for _, obj in inspect.getmembers(ir, inspect.isclass)
         if dataclasses.is_dataclass(obj) and obj.__module__ == ir.__name__]

SOURCE = '''use "f.py"
agent a "A"
data a.x csv "x.csv" mock "m.csv" { id: int }
policy a { allow f on a.* to any except g }
never a.x reaches b
goal a receives c
contract c { by a compute f(a.x, k = [1, "s", true]) to a require not (1 + 2 * 3 > 4) ensure for q in [a]: f(q.x) }
'''


def test_every_node_is_frozen_slotted_and_keyword_only():
    assert len(NODES) >= 20
    for cls in NODES:
        params = dataclasses.fields(cls)
        assert cls.__dataclass_params__.frozen, cls
        assert "__slots__" in cls.__dict__, cls
        assert all(f.kw_only for f in params), cls


def test_positional_construction_is_refused():
    with pytest.raises(TypeError):
        ir.Name("x")  # type: ignore[misc]


def test_nodes_cannot_be_changed():
    n = ir.Name(id="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.id = "y"  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        n.extra = 1  # type: ignore[attr-defined]


def test_span_is_excluded_from_equality_and_hash():
    a = ir.Name(id="x", span=Span(line=1, column=1, end_line=1, end_column=2))
    b = ir.Name(id="x", span=Span(line=9, column=4, end_line=9, end_column=5))
    assert a == b and hash(a) == hash(b)
    assert ir.Name(id="x") != ir.Name(id="y")


def test_layout_does_not_change_the_program():
    squeezed = " ".join(SOURCE.split())
    commented = SOURCE.replace("\n", "   # note\n\n")
    first = parse(SOURCE, "a.dsc")
    assert not first.diagnostics
    assert parse(squeezed, "b.dsc").program == first.program
    assert parse(commented, "c.dsc").program == first.program


def test_spans_point_into_the_source():
    result = parse(SOURCE, "a.dsc")
    contract = result.program.contracts[0]
    s = contract.name.span
    assert SOURCE[s.start:s.end] == "c"
    assert (s.line, s.column, s.end_line, s.end_column) == (7, 10, 7, 11)
    call = contract.call
    assert SOURCE[call.span.start:call.span.end] == 'f(a.x, k = [1, "s", true])'
    d = result.program.data[0]
    assert SOURCE[d.span.start:d.span.end] == 'data a.x csv "x.csv" mock "m.csv" { id: int }'


def test_program_accessors():
    p = parse(SOURCE, "a.dsc").program
    assert [type(d).__name__ for d in p.decls] == ["Use", "Agent", "Data", "Policy", "Never", "Goal", "Contract"]
    assert p.agents[0].display.value == "A"
    assert p.data[0].qualified == "a.x"
    assert p.policies[0].rules[0].except_[0].name == "g"
    assert p.nevers[0].data.matches("a", "x")
    assert p.goals[0].contract.name == "c"
    assert p.uses[0].path.value == "f.py"


def test_operator_precedence_in_the_ir():
    p = parse("contract c { by a compute f(x) to a require not 1 + 2 * 3 > 4 or true and false }", "t").program
    cond = p.contracts[0].requires[0]
    assert isinstance(cond, ir.BinOp) and cond.op == "or"
    left = cond.left
    assert isinstance(left, ir.UnaryOp) and left.op == "not"
    cmp = left.operand
    assert cmp.op == ">" and cmp.left.op == "+" and cmp.left.right.op == "*"
    assert cond.right.op == "and"


def test_string_escapes_and_numbers():
    p = parse(r'contract c { by a compute f("a\"b\\c\n", 12, 3.5, 1e6) to a }', "t").program
    args = p.contracts[0].call.args
    assert args[0].value == 'a"b\\c\n'
    assert [a.value for a in args[1:]] == [12, 3.5, 1e6]
    assert isinstance(args[1].value, int) and isinstance(args[2].value, float)
