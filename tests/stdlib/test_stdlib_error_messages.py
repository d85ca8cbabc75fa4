"""A built-in's `BuiltinError` message is shown to everyone (hole 3), so the stdlib writes it
without data: no argument value, no column name, no cell, no library message. Read with
`ast`: every `BuiltinError(...)` is a constant text, or an f-string whose holes are only
the name of an argument (`what`), a constant of the module, a length (a shape), or the type
of a library exception."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from datastation import stdlib

STDLIB = Path(stdlib.__file__).parent
SOURCES = sorted(p for p in STDLIB.glob("*.py"))
SHAPES = {"what", "rows", "length"}  # parameters naming an argument, and counts


def _allowed(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in SHAPES or node.id.isupper() or node.id.lstrip("_").isupper()
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join":
        return all(_allowed(a) for a in node.args)  # ", ".join(CONSTANT)
    if isinstance(node, ast.Attribute) and node.attr == "__name__":
        inner = node.value  # type(exc).__name__: the class of a library's exception
        return (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "type"
                and len(inner.args) == 1 and isinstance(inner.args[0], ast.Name) and inner.args[0].id == "exc")
    return False


def _holes(message: ast.expr) -> list[ast.expr] | None:
    """The interpolated expressions of a message (None: the message is not a literal at all)."""
    if isinstance(message, ast.Constant) and isinstance(message.value, str):
        return []
    if isinstance(message, ast.JoinedStr):
        return [v.value for v in message.values if isinstance(v, ast.FormattedValue)]
    return None


def _raises(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "BuiltinError":
            yield node


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_builtin_error_messages_carry_no_data(path):
    bad = []
    for call in _raises(path):
        holes = _holes(call.args[0]) if call.args else []
        if holes is None or not all(_allowed(h) for h in holes):
            bad.append(f"{path.name}:{call.lineno}: {ast.unparse(call)}")
    assert not bad, "messages that may carry data:\n" + "\n".join(bad)


def test_the_check_catches_a_value_in_a_message():
    call = ast.parse('BuiltinError(f"column {column!r} has no values")').body[0].value
    assert not all(_allowed(h) for h in _holes(call.args[0]))
    call = ast.parse('BuiltinError(f"SQL error: {exc}")').body[0].value
    assert not all(_allowed(h) for h in _holes(call.args[0]))
