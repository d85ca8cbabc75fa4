"""The one walk over expressions (driven by `ir.CHILDREN`), with the quantifier variables in scope.

Every consumer that visits the sub-expressions of a computation or condition — the symbol
table, the checker rules, the language server's index, the escrow's view of a contract — uses
`walk_list`, with a `bind` hook when it needs to know more about a quantifier variable than
which `ForAll` binds it. (Folds that compute a value per node, like type inference, follow the
same table through `ir.children`.)
"""

from __future__ import annotations

import typing
from typing import Callable, Iterable, Iterator, Mapping

from . import ir

COMPUTE, KEEP, REQUIRE, ENSURE = "compute", "keep", "require", "ensure"

Scope = Mapping[str, object]  # quantifier variable -> what it is bound to
Bind = Callable[[ir.ForAll, Scope], object]

EMPTY_SCOPE: Scope = {}  # never modified: a quantifier's body gets a copy


def contract_exprs(contract: ir.Contract) -> Iterator[tuple[str, ir.Expr]]:
    """(clause, expression) for the computation and every condition of a contract."""
    if contract.call is not None:
        yield (KEEP if contract.keeps else COMPUTE), contract.call
    for e in contract.requires:
        yield REQUIRE, e
    for e in contract.ensures:
        yield ENSURE, e


def walk_list(expr: ir.Expr, scope: Scope = EMPTY_SCOPE, bind: Bind | None = None,
              expand: bool = False) -> list[tuple[ir.Expr, Scope]]:
    """Every expression under `expr` (itself included), pre-order in source order, each with
    the scope in force at it: a mapping from every quantifier variable bound there to
    `bind(forall, scope_of_the_forall)`, by default the `ForAll` node itself. A keyword
    argument is visited as its value (the `Keyword` node itself is not listed).

    With `expand`, `bind` returns the values the variable takes, and a quantifier's body is
    visited once per value (`for b in [x, y]: ...` visits the body with b -> x, then b -> y).

    One pass over an explicit stack into a list: no recursion (a chain of thousands of `and`s
    nests that deep), no generator overhead (the checker walks every expression it reads).
    The loop is generated from `ir.CHILDREN` when this module loads (see `_walk_source`).
    """
    if expand and bind is None:
        raise ValueError("expand needs bind: the values each quantifier variable takes")
    return _walk_list(expr, scope, bind, expand)


def _walk_source() -> str:
    """The source of `_walk_list`: one `cls is ...` branch per node class with children, each
    pushing the children `ir.CHILDREN` lists in reverse order, so that they pop in source order.

    Generated rather than driven by `getattr` at run time: the checker walks every expression
    of 10,000-contract files, and a generated branch reads each field directly.
    """
    hints = {cls: typing.get_type_hints(cls) for cls in ir.CHILDREN}
    lines = [
        "def _walk_list(expr, scope, bind, expand):",
        "    out = []",
        "    append = out.append",
        "    stack = [(expr, scope)]",
        "    pop, push = stack.pop, stack.append",
        "    while stack:",
        "        item = pop()",
        "        append(item)",
        "        node, scope = item",
        "        cls = type(node)",
    ]
    branch = "if"
    for cls, fields in ir.CHILDREN.items():
        if not fields or cls is ir.Keyword:  # leaves; keyword arguments are pushed as their values
            continue
        lines.append(f"        {branch} cls is {cls.__name__}:")
        branch = "elif"
        if cls is ir.ForAll:  # the one binder: `var` is in scope in `body` only
            assert fields == ("iterable", "body"), fields
            lines += [
                "            var = node.var.name",
                "            if expand:",
                "                for value in reversed(list(bind(node, scope))):",
                "                    inner = dict(scope)",
                "                    inner[var] = value",
                "                    push((node.body, inner))",
                "            else:",
                "                inner = dict(scope)",
                "                inner[var] = node if bind is None else bind(node, scope)",
                "                push((node.body, inner))",
                "            push((node.iterable, scope))",
            ]
            continue
        for name in reversed(fields):
            hint = hints[cls][name]
            if typing.get_origin(hint) is tuple:
                value = "child.value" if typing.get_args(hint)[0] is ir.Keyword else "child"
                lines.append(f"            for child in reversed(node.{name}):")
                lines.append(f"                push(({value}, scope))")
            else:
                lines.append(f"            push((node.{name}, scope))")
    lines.append("    return out")
    return "\n".join(lines) + "\n"


_namespace: dict = {cls.__name__: cls for cls in ir.CHILDREN}
exec(compile(_walk_source(), f"<{__name__}._walk_list>", "exec"), _namespace)
_walk_list = _namespace["_walk_list"]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The known name closest to `name`, if one is close enough to be a typo."""
    import difflib  # only when a name is wrong

    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A help line suggesting the closest known name, if one is close."""
    match = closest(name, candidates)
    return f"did you mean '{match}'?" if match else None
