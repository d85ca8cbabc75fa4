"""The intermediate representation of a .dsc program.

Every node is a frozen, keyword-only, slotted dataclass. `span` is excluded from
equality and hashing, so two programs that differ only in layout compare equal.

`CHILDREN` is the one table of an expression node's child fields (walks follow it) and
`BINARY_PRECEDENCE` the one table of binding strengths (the parser, the formatter and the
printer read it).
"""

from __future__ import annotations

import operator
import typing
from dataclasses import dataclass, field
from typing import Union

from .diagnostics import NO_SPAN, Span


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)


node = dataclass(frozen=True, kw_only=True, slots=True)


@node
class Ident:
    """A name as written, with its location."""

    name: str
    span: Span = _span()


# ---------------------------------------------------------------- expressions


@node
class Name:
    """A bare name in an expression: an agent, a kept result, a loop variable or `result`."""

    id: str
    span: Span = _span()


@node
class Attribute:
    """`base.attr`, e.g. `bank1.train` or `b.test` inside a quantifier."""

    value: "Expr"
    attr: Ident
    span: Span = _span()


@node
class Str:
    value: str
    span: Span = _span()


@node
class Num:
    value: int | float
    span: Span = _span()


@node
class Bool:
    value: bool
    span: Span = _span()


@node
class ListExpr:
    items: tuple["Expr", ...]
    span: Span = _span()


@node
class Keyword:
    """A keyword argument `name = value`."""

    name: Ident
    value: "Expr"
    span: Span = _span()


@node
class Call:
    func: Ident
    args: tuple["Expr", ...] = ()
    kwargs: tuple[Keyword, ...] = ()
    span: Span = _span()


@node
class UnaryOp:
    op: str  # "not" | "-"
    operand: "Expr"
    span: Span = _span()


@node
class BinOp:
    """Arithmetic (`+ - * / %`), comparison (`== != < <= > >=`) or boolean (`and`, `or`)."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@node
class ForAll:
    """`for var in iterable: body` holds when body holds for every element."""

    var: Ident
    iterable: "Expr"
    body: "Expr"
    span: Span = _span()


Expr = Union[Name, Attribute, Str, Num, Bool, ListExpr, Call, UnaryOp, BinOp, ForAll]

# The child nodes of every expression node, by field, in source order: the one description of
# the expression tree, which every walk (`walk.py`) and fold (`children`) follows. A field holds
# a node or a tuple of nodes; `Ident` fields (names as written) are not children. `ForAll`
# binds its `var` in its `body` (not in its `iterable`).
CHILDREN: dict[type, tuple[str, ...]] = {
    Name: (),
    Str: (),
    Num: (),
    Bool: (),
    Attribute: ("value",),
    ListExpr: ("items",),
    Keyword: ("value",),
    Call: ("args", "kwargs"),
    UnaryOp: ("operand",),
    BinOp: ("left", "right"),
    ForAll: ("iterable", "body"),
}


def children(node) -> tuple:
    """The child expressions of an expression node, in source order. A keyword argument
    counts as its value (walks do not stop at `Keyword` nodes: they hold no expression)."""
    return _CHILD_GETTERS[type(node)](node)


def _child_getter(cls: type):
    """A fast `children` for one node class, made from its `CHILDREN` entry."""
    fields = CHILDREN[cls]
    hints = typing.get_type_hints(cls)
    shapes = [(typing.get_origin(hints[f]) is tuple, f) for f in fields]
    if not fields:
        return lambda node: ()
    if not any(seq for seq, _ in shapes):
        if len(fields) > 1:
            return operator.attrgetter(*fields)  # a tuple of the fields
        get_one = operator.attrgetter(fields[0])
        return lambda node: (get_one(node),)
    if len(fields) == 1 and typing.get_args(hints[fields[0]])[0] is not Keyword:
        return operator.attrgetter(fields[0])  # the field is the tuple of children

    def get(node) -> tuple:
        out: list = []
        for seq, name in shapes:
            value = getattr(node, name)
            if not seq:
                out.append(value)
            else:
                out.extend(v.value if type(v) is Keyword else v for v in value)
        return tuple(out)

    return get


_CHILD_GETTERS = {cls: _child_getter(cls) for cls in CHILDREN}


# ---------------------------------------------------------------- operators

# Binding strength, loosest first: the one precedence table. The parser's precedence climbing,
# the formatter and the printer (`printer.py`) all read it. A child that binds less tightly
# than its context is parenthesized.
P_FORALL, P_OR, P_AND, P_NOT, P_COMPARE, P_SUM, P_PRODUCT, P_NEGATE, P_ATOM = range(9)
BINARY_PRECEDENCE: dict[str, int] = {
    "or": P_OR,
    "and": P_AND,
    "==": P_COMPARE,
    "!=": P_COMPARE,
    "<": P_COMPARE,
    "<=": P_COMPARE,
    ">": P_COMPARE,
    ">=": P_COMPARE,
    "+": P_SUM,
    "-": P_SUM,
    "*": P_PRODUCT,
    "/": P_PRODUCT,
    "%": P_PRODUCT,
}
COMPARISON_OPS = frozenset(op for op, p in BINARY_PRECEDENCE.items() if p == P_COMPARE)
BOOLEAN_OPS = frozenset(op for op, p in BINARY_PRECEDENCE.items() if p in (P_OR, P_AND))


def precedence(expr) -> int:
    """How tightly `expr` binds (`P_ATOM` for names, literals, lists, calls and attributes)."""
    cls = type(expr)
    if cls is BinOp:
        return BINARY_PRECEDENCE.get(expr.op, P_ATOM)
    if cls is UnaryOp:
        return P_NOT if expr.op == "not" else P_NEGATE
    if cls is ForAll:
        return P_FORALL
    return P_ATOM


# ---------------------------------------------------------------- patterns


@node
class Pattern:
    """A name pattern: a literal name, `*` or `any` (both match everything)."""

    value: str
    span: Span = _span()

    @property
    def is_wildcard(self) -> bool:
        return self.value in ("*", "any")

    def matches(self, name: str) -> bool:
        return self.is_wildcard or self.value == name


@node
class DataPattern:
    """`owner.name` where either part may be `*`; `any` matches every data element."""

    owner: str
    name: str
    span: Span = _span()

    def matches(self, owner: str, name: str) -> bool:
        return self.owner in ("*", owner) and self.name in ("*", name)

    def __str__(self) -> str:
        return f"{self.owner}.{self.name}"


# ---------------------------------------------------------------- declarations


@node
class Use:
    """`use "functions.py"`: a Python module of user functions, resolved beside the file."""

    path: Str
    span: Span = _span()


@node
class Agent:
    name: Ident
    display: Str | None = None
    span: Span = _span()


@node
class Column:
    name: Ident
    type: Ident
    span: Span = _span()


@node
class Data:
    """`data OWNER.NAME FORMAT "path" [mock "path"] [{ col: type, ... }]`."""

    owner: Ident
    name: Ident
    format: Ident
    path: Str
    mock: Str | None = None
    schema: tuple[Column, ...] | None = None
    span: Span = _span()

    @property
    def qualified(self) -> str:
        return f"{self.owner.name}.{self.name.name}"


@node
class Rule:
    """`allow|deny FUNCTION [on DATA, ...] [to AGENT, ...] [except FUNCTION, ...]`."""

    effect: str  # "allow" | "deny"
    function: Pattern
    data: tuple[DataPattern, ...] = ()  # empty: every data element of the policy's owner
    to: tuple[Pattern, ...] = ()  # empty: any recipient
    except_: tuple[Ident, ...] = ()
    span: Span = _span()


@node
class Policy:
    owner: Ident
    rules: tuple[Rule, ...]
    span: Span = _span()


@node
class Contract:
    """A proposed dataflow: who proposes it, what runs, who receives it, under which conditions.

    Exactly one of `compute` and `keep` is set. With `keep`, the result stays in the escrow
    as a derived data element named `keep_as`; `to` may still release a copy.
    """

    name: Ident
    by: Ident | None = None
    call: Call | None = None
    keep_as: Ident | None = None
    to: tuple[Ident, ...] = ()
    requires: tuple["Expr", ...] = ()
    ensures: tuple["Expr", ...] = ()
    span: Span = _span()

    @property
    def keeps(self) -> bool:
        return self.keep_as is not None


@node
class Never:
    """`never DATA reaches AGENT, ...`: a constraint checked over every possible flow."""

    data: DataPattern
    agents: tuple[Pattern, ...]
    span: Span = _span()


@node
class Goal:
    """`goal AGENT receives CONTRACT`: a state that must be reachable."""

    agent: Ident
    contract: Ident
    span: Span = _span()


Decl = Union[Use, Agent, Data, Policy, Contract, Never, Goal]


@node
class Comment:
    text: str  # including the leading '#'
    span: Span = _span()


@node
class Program:
    """A parsed .dsc file: its declarations in source order and its comments."""

    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    file: str = field(default="<input>", compare=False)

    def of(self, kind: type) -> list:
        return [d for d in self.decls if isinstance(d, kind)]

    @property
    def agents(self) -> list[Agent]:
        return self.of(Agent)

    @property
    def data(self) -> list[Data]:
        return self.of(Data)

    @property
    def contracts(self) -> list[Contract]:
        return self.of(Contract)

    @property
    def policies(self) -> list[Policy]:
        return self.of(Policy)

    @property
    def uses(self) -> list[Use]:
        return self.of(Use)

    @property
    def nevers(self) -> list[Never]:
        return self.of(Never)

    @property
    def goals(self) -> list[Goal]:
        return self.of(Goal)
