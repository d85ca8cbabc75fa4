"""The one flat printer: an expression as .dsc text on one line, with only the parentheses it needs.

The formatter lays out every expression that fits on a line with it, and everything that shows
an expression to a person prints with it: condition reports, the owner's summary. How tightly
each construct binds comes from the IR's one precedence table (`ir.BINARY_PRECEDENCE`,
`ir.precedence`); the parenthesization rules below are also the formatter's when it breaks an
expression over several lines.
"""

from __future__ import annotations

import math

from . import ir
from .tokens import escape


def number(value) -> str:
    """A numeric or boolean literal as the parser reads it back (infinity is `1e999`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value) and value > 0:
        return "1e999"  # the literal the parser reads as infinity
    return repr(float(value))


def operand_parens(op: str, child, right: bool) -> bool:
    """Whether `child`, an operand of a binary `op`, needs parentheses."""
    p = ir.BINARY_PRECEDENCE.get(op, ir.P_ATOM)
    c = ir.precedence(child)
    if p == ir.P_COMPARE:  # comparisons do not chain
        return c <= p
    return c <= p if right else c < p  # left-associative


def unary_parens(e: ir.UnaryOp) -> bool:
    """`-(a + b)`, `not (a or b)`; also `-(-a)`, which reads better than `--a`."""
    if e.op == "-" and isinstance(e.operand, ir.UnaryOp) and e.operand.op == "-":
        return True
    return ir.precedence(e.operand) < ir.precedence(e)


def attribute_parens(e: ir.Attribute) -> bool:
    """`(a + b).x`: the base of an attribute is an atom."""
    return ir.precedence(e.value) < ir.P_ATOM


def iterable_parens(e: ir.ForAll) -> bool:
    """`for x in (for ...)`: a quantifier's iterable binds at least as tightly as `or`."""
    return ir.precedence(e.iterable) < ir.P_OR


def chain(e: ir.BinOp) -> list:
    """`a + b - c` as [(a, None), (b, "+"), (c, "-")]: same-precedence left operands, unrolled
    (so that a chain of thousands of `and`s prints without recursion)."""
    prec = ir.BINARY_PRECEDENCE.get(e.op)
    rights = []
    node = e
    while isinstance(node, ir.BinOp) and ir.BINARY_PRECEDENCE.get(node.op) == prec and prec != ir.P_COMPARE:
        rights.append((node.right, node.op))
        node = node.left
    if not rights:  # a comparison
        return [(e.left, None), (e.right, e.op)]
    rights.reverse()
    return [(node, None)] + rights


def to_source(expr, memo: dict | None = None) -> str:
    """`expr` as .dsc text on one line, with only the parentheses it needs.

    `memo` (id of a node -> its text) lets a caller that prints many overlapping
    sub-expressions of the same tree, like the formatter, print each node once.
    """
    return _text(expr, {} if memo is None else memo)


def _text(e, memo: dict) -> str:
    key = id(e)
    got = memo.get(key)
    if got is None:
        got = memo[key] = _render(e, memo)
    return got


def _render(e, memo: dict) -> str:
    if isinstance(e, ir.Name):
        return e.id
    if isinstance(e, ir.Str):
        return escape(e.value)
    if isinstance(e, (ir.Num, ir.Bool)):
        return number(e.value)
    if isinstance(e, ir.Attribute):
        v = _text(e.value, memo)
        return f"({v}).{e.attr.name}" if attribute_parens(e) else f"{v}.{e.attr.name}"
    if isinstance(e, ir.ListExpr):
        return "[" + ", ".join(_text(x, memo) for x in e.items) + "]"
    if isinstance(e, ir.Call):
        args = [_text(a, memo) for a in e.args] + [f"{k.name.name} = {_text(k.value, memo)}" for k in e.kwargs]
        return f"{e.func.name}({', '.join(args)})"
    if isinstance(e, ir.UnaryOp):
        v = _text(e.operand, memo)
        if unary_parens(e):
            v = f"({v})"
        return f"not {v}" if e.op == "not" else f"{e.op}{v}"
    if isinstance(e, ir.BinOp):
        parts = []
        for operand, op in chain(e):
            s = _text(operand, memo)
            if op is not None:
                parts.append(op)
            parts.append(f"({s})" if operand_parens(e.op, operand, op is not None) else s)
        return " ".join(parts)
    if isinstance(e, ir.ForAll):
        it = _text(e.iterable, memo)
        if iterable_parens(e):
            it = f"({it})"
        return f"for {e.var.name} in {it}: {_text(e.body, memo)}"
    raise TypeError(f"not an expression: {type(e).__name__}")
