"""Walking the expressions of a program, with the quantifier variables in scope."""

from __future__ import annotations

import difflib
from typing import Iterable, Iterator

from . import ir

COMPUTE, KEEP, REQUIRE, ENSURE = "compute", "keep", "require", "ensure"


def contract_exprs(contract: ir.Contract) -> Iterator[tuple[str, ir.Expr]]:
    """(clause, expression) for the computation and every condition of a contract."""
    if contract.call is not None:
        yield (KEEP if contract.keeps else COMPUTE), contract.call
    for e in contract.requires:
        yield REQUIRE, e
    for e in contract.ensures:
        yield ENSURE, e


def walk(expr: ir.Expr, bound: frozenset[str] = frozenset()) -> Iterator[tuple[ir.Expr, frozenset[str]]]:
    """Every sub-expression (pre-order) with the quantifier variables bound at that point."""
    stack = [(expr, bound)]
    while stack:
        node, scope = stack.pop()
        yield node, scope
        if isinstance(node, ir.ForAll):
            stack.append((node.body, scope | {node.var.name}))
            stack.append((node.iterable, scope))
        elif isinstance(node, ir.Call):
            stack.extend((k.value, scope) for k in reversed(node.kwargs))
            stack.extend((a, scope) for a in reversed(node.args))
        elif isinstance(node, ir.ListExpr):
            stack.extend((x, scope) for x in reversed(node.items))
        elif isinstance(node, ir.BinOp):
            stack.append((node.right, scope))
            stack.append((node.left, scope))
        elif isinstance(node, ir.UnaryOp):
            stack.append((node.operand, scope))
        elif isinstance(node, ir.Attribute):
            stack.append((node.value, scope))


def calls(expr: ir.Expr) -> Iterator[ir.Call]:
    for node, _ in walk(expr):
        if isinstance(node, ir.Call):
            yield node


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The known name closest to `name`, if one is close enough to be a typo."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A help line suggesting the closest known name, if one is close."""
    match = closest(name, candidates)
    return f"did you mean '{match}'?" if match else None
