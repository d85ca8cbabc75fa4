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
    return iter(walk_list(expr, bound))


def walk_list(expr: ir.Expr, bound: frozenset[str] = frozenset()) -> list[tuple[ir.Expr, frozenset[str]]]:
    """`walk` as a list (one pass, no generator overhead: the checker walks every expression)."""
    out = []
    append = out.append
    stack = [(expr, bound)]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        append(item)
        node, scope = item
        cls = type(node)
        if cls is ir.BinOp:
            push((node.right, scope))
            push((node.left, scope))
        elif cls is ir.Call:
            for k in reversed(node.kwargs):
                push((k.value, scope))
            for a in reversed(node.args):
                push((a, scope))
        elif cls is ir.Attribute:
            push((node.value, scope))
        elif cls is ir.ListExpr:
            for x in reversed(node.items):
                push((x, scope))
        elif cls is ir.UnaryOp:
            push((node.operand, scope))
        elif cls is ir.ForAll:
            push((node.body, scope | {node.var.name}))
            push((node.iterable, scope))
    return out


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
