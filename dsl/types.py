"""The checker's types, and how Python annotations map onto them.

The type system is deliberately small: it exists to catch mistakes such as comparing a table
with a number or passing a string where a list of tables is expected, not to prove programs.
`ANY` is compatible with everything, so unannotated user functions never cause false alarms.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, eq=False)
class Type:
    """A checker type. Instances are interned (`list_of` caches), so identity is equality."""

    name: str
    item: "Type | None" = None  # element type of a list

    def __str__(self) -> str:
        return f"list[{self.item}]" if self.name == "list" else self.name


ANY = Type("any")
BOOL = Type("bool")
INT = Type("int")
FLOAT = Type("float")
STRING = Type("string")
TABLE = Type("table")
MODEL = Type("model")
SCHEMA = Type("schema")
AGENT = Type("agent")
DICT = Type("dict")
NONE = Type("none")


@functools.cache
def list_of(item: Type) -> Type:
    return Type("list", item)


NUMERIC = (INT, FLOAT)

_SIMPLE = {
    "int": INT,
    "float": FLOAT,
    "str": STRING,
    "bool": BOOL,
    "Table": TABLE,
    "DataFrame": TABLE,
    "Model": MODEL,
    "Schema": SCHEMA,
    "Column": STRING,  # a column name (see `signatures.column_target`)
    "dict": DICT,
    "Dict": DICT,
    "Mapping": DICT,
    "Any": ANY,
    "object": ANY,
    "None": NONE,
}

COLUMN_TYPES = frozenset({"int", "float", "string", "bool", "date", "datetime"})


def from_annotation(node: ast.expr | None) -> Type:
    """The type an annotation denotes; anything unknown is `ANY`."""
    if node is None:
        return ANY
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "Table" string annotations
        try:
            node = ast.parse(node.value, mode="eval").body
        except (SyntaxError, ValueError):  # ValueError: a NUL character
            return ANY
    if isinstance(node, ast.Constant) and node.value is None:
        return NONE
    if isinstance(node, ast.Name):
        return _SIMPLE.get(node.id, ANY)
    if isinstance(node, ast.Attribute):  # pd.DataFrame, typing.Any
        return _SIMPLE.get(node.attr, ANY)
    if isinstance(node, ast.Subscript):
        base = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
        if base in ("list", "List", "Sequence", "Iterable", "tuple"):
            inner = node.slice
            if isinstance(inner, ast.Tuple):
                inner = inner.elts[0] if inner.elts else None
            return list_of(from_annotation(inner))
        if base in ("dict", "Dict", "Mapping"):
            return DICT
        if base == "Optional":
            return from_annotation(node.slice)
        if base == "Column":  # Column["cohort"]: a column of the table passed as `cohort`
            return STRING
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # X | None
        left, right = from_annotation(node.left), from_annotation(node.right)
        return right if left is NONE else left if right is NONE else ANY
    return ANY


def assignable(value: Type, target: Type) -> bool:
    """Whether a value of type `value` may be passed where `target` is expected."""
    # Types are interned and compare by identity (`eq=False`), so `is` is equality here.
    if value is target or value is ANY or target is ANY:
        return True
    if target is FLOAT and value is INT:
        return True
    if value.name == "list" and target.name == "list":
        return assignable(value.item or ANY, target.item or ANY)
    return False


def join(a: Type, b: Type) -> Type:
    """The type of a list holding values of types `a` and `b`."""
    if a == b:
        return a
    if {a, b} == {INT, FLOAT}:
        return FLOAT
    if a.name == "list" and b.name == "list":
        return list_of(join(a.item or ANY, b.item or ANY))
    return ANY


def describe(t: Type) -> str:
    """A type as a user reads it in a message."""
    return {
        "table": "a data element (table)",
        "string": "a string",
        "int": "an integer",
        "float": "a number",
        "bool": "a boolean",
        "agent": "an agent",
        "model": "a model",
        "schema": "a schema",
        "dict": "a dictionary",
        "none": "nothing",
    }.get(t.name, f"a {t}" if t.name == "list" else "a value")
