"""Every name occurrence of a program, by position: what the name under the cursor denotes.

Built from the IR and the symbol table once per analysis (in the worker thread), then queried
with a bisect by hover, go-to-definition and completion.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from .. import ir
from ..diagnostics import Span
from ..symbols import RESULT, Symbols

# Occurrence kinds
AGENT, DATA, KEPT, CONTRACT, FUNCTION, VARIABLE, PARAM, RESULT_KIND, COLUMN, NAME = (
    "agent", "data", "kept", "contract", "function", "variable", "param", "result", "column", "name"
)


@dataclass(slots=True, eq=False)
class Occurrence:
    """A name in the source. `key` is what it denotes ("owner.name" for data); `keys` lists
    several data keys when a loop variable stands for several agents (`b.test`)."""

    start: int
    end: int
    kind: str
    key: str
    decl: bool = False
    keys: tuple[str, ...] = ()
    context: object = field(default=None, compare=False)  # the contract or call it sits in
    def_span: Span | None = field(default=None, compare=False)  # for loop variables


class Index:
    def __init__(self, occurrences: list[Occurrence]):
        occurrences.sort(key=lambda o: o.start)
        self.occurrences = occurrences
        self._starts = [o.start for o in occurrences]

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence covering `offset` (the character at or just before it)."""
        i = bisect.bisect_right(self._starts, offset) - 1
        while i >= 0:
            o = self.occurrences[i]
            if o.start <= offset <= o.end:
                return o
            if o.start < offset - 200:  # names are short: stop looking far back
                break
            i -= 1
        return None


def _valid(span: Span | None) -> bool:
    return span is not None and span.end > span.start


def build_index(program: ir.Program, symbols: Symbols, text: str) -> Index:
    occ: list[Occurrence] = []
    add = occ.append

    def ident(node, kind: str, key: str | None = None, decl: bool = False, **kw) -> None:
        span = node.span
        if _valid(span):
            add(Occurrence(span.start, span.end, kind, key if key is not None else node.name, decl, **kw))

    def pattern_parts(p: ir.DataPattern) -> None:
        """`owner.name` with wildcards: the owner as an agent, the name as a data element."""
        s = p.span
        if not _valid(s) or (p.owner, p.name) == ("*", "*"):
            return
        if p.owner != "*" and text[s.start : s.start + len(p.owner)] == p.owner:
            add(Occurrence(s.start, s.start + len(p.owner), AGENT, p.owner))
            if p.name != "*" and text[s.end - len(p.name) : s.end] == p.name:
                add(Occurrence(s.end - len(p.name), s.end, DATA, f"{p.owner}.{p.name}"))

    def name_kind(name: str) -> str:
        kind = symbols.kind_of(name)
        return {"agent": AGENT, "kept result": KEPT, "contract": CONTRACT, "function": FUNCTION}.get(kind, NAME)

    def expr(root: ir.Expr, contract: ir.Contract, ensure: bool) -> None:
        # explicit stack: long operator chains nest deeper than Python's recursion limit
        stack: list[tuple[ir.Expr, dict]] = [(root, {})]
        while stack:
            node, scope = stack.pop()
            if isinstance(node, ir.Name):
                if not _valid(node.span):
                    continue
                if node.id in scope:
                    var, agents = scope[node.id]
                    add(Occurrence(node.span.start, node.span.end, VARIABLE, node.id, def_span=var.span,
                                   keys=tuple(agents), context=contract))
                elif node.id == RESULT and ensure:
                    add(Occurrence(node.span.start, node.span.end, RESULT_KIND, RESULT, context=contract))
                else:
                    add(Occurrence(node.span.start, node.span.end, name_kind(node.id), node.id, context=contract))
            elif isinstance(node, ir.Attribute):
                base = node.value
                if isinstance(base, ir.Name):
                    if base.id in scope:
                        agents = scope[base.id][1]
                        keys = tuple(f"{a}.{node.attr.name}" for a in agents)
                        ident(node.attr, DATA, keys[0] if keys else f"{base.id}.{node.attr.name}", keys=keys,
                              context=contract)
                    else:
                        ident(node.attr, DATA, f"{base.id}.{node.attr.name}", context=contract)
                stack.append((base, scope))
            elif isinstance(node, ir.Call):
                ident(node.func, FUNCTION, context=contract)
                for k in node.kwargs:
                    ident(k.name, PARAM, k.name.name, context=node)
                    stack.append((k.value, scope))
                stack.extend((a, scope) for a in node.args)
            elif isinstance(node, ir.ForAll):
                agents = symbols.agent_values(node.iterable, {k: v[1] for k, v in scope.items()})
                inner = dict(scope)
                inner[node.var.name] = (node.var, agents)
                ident(node.var, VARIABLE, decl=True, keys=tuple(agents), def_span=node.var.span, context=contract)
                stack.append((node.iterable, scope))
                stack.append((node.body, inner))
            elif isinstance(node, ir.ListExpr):
                stack.extend((x, scope) for x in node.items)
            elif isinstance(node, ir.BinOp):
                stack.append((node.left, scope))
                stack.append((node.right, scope))
            elif isinstance(node, ir.UnaryOp):
                stack.append((node.operand, scope))

    for d in program.decls:
        if isinstance(d, ir.Agent):
            ident(d.name, AGENT, decl=True)
        elif isinstance(d, ir.Data):
            ident(d.owner, AGENT)
            ident(d.name, DATA, d.qualified, decl=True)
            for col in d.schema or ():
                ident(col.name, COLUMN, f"{d.qualified}.{col.name.name}", decl=True)
        elif isinstance(d, ir.Policy):
            ident(d.owner, AGENT)
            for r in d.rules:
                if not r.function.is_wildcard and _valid(r.function.span):
                    add(Occurrence(r.function.span.start, r.function.span.end, FUNCTION, r.function.value))
                for p in r.data:
                    pattern_parts(p)
                for p in r.to:
                    if not p.is_wildcard and _valid(p.span):
                        add(Occurrence(p.span.start, p.span.end, AGENT, p.value))
                for f in r.except_:
                    ident(f, FUNCTION)
        elif isinstance(d, ir.Never):
            pattern_parts(d.data)
            for p in d.agents:
                if not p.is_wildcard and _valid(p.span):
                    add(Occurrence(p.span.start, p.span.end, AGENT, p.value))
        elif isinstance(d, ir.Goal):
            ident(d.agent, AGENT)
            ident(d.contract, CONTRACT)
        elif isinstance(d, ir.Contract):
            ident(d.name, CONTRACT, decl=True)
            if d.by is not None:
                ident(d.by, AGENT, context=d)
            if d.keep_as is not None:
                ident(d.keep_as, KEPT, decl=True, context=d)
            for t in d.to:
                ident(t, AGENT, context=d)
            if d.call is not None:
                expr(d.call, d, False)
            for e in d.requires:
                expr(e, d, False)
            for e in d.ensures:
                expr(e, d, True)
    return Index(occ)
