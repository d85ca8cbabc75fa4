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
from ..walk import EMPTY_SCOPE, ENSURE, contract_exprs, walk_list

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
    b = _Builder(symbols, text)
    for d in program.decls:
        b.decl(d)
    return Index(b.occ)


_KINDS = {"agent": AGENT, "kept result": KEPT, "contract": CONTRACT, "function": FUNCTION}


class _Builder:
    """Collects the occurrences of one program's names."""

    def __init__(self, symbols: Symbols, text: str):
        self.symbols = symbols
        self.text = text
        self.occ: list[Occurrence] = []

    def add(self, span: Span, kind: str, key: str, **kw) -> None:
        self.occ.append(Occurrence(span.start, span.end, kind, key, **kw))

    def ident(self, node, kind: str, key: str | None = None, decl: bool = False, **kw) -> None:
        if _valid(node.span):
            self.add(node.span, kind, key if key is not None else node.name, decl=decl, **kw)

    def pattern(self, p: ir.Pattern) -> None:
        """An agent pattern (`to`, `reaches`): a name unless it is a wildcard."""
        if not p.is_wildcard and _valid(p.span):
            self.add(p.span, AGENT, p.value)

    def data_pattern(self, p: ir.DataPattern) -> None:
        """`owner.name` with wildcards: the owner as an agent, the name as a data element."""
        s, text = p.span, self.text
        if not _valid(s) or (p.owner, p.name) == ("*", "*"):
            return
        if p.owner != "*" and text[s.start : s.start + len(p.owner)] == p.owner:
            self.occ.append(Occurrence(s.start, s.start + len(p.owner), AGENT, p.owner))
            if p.name != "*" and text[s.end - len(p.name) : s.end] == p.name:
                self.occ.append(Occurrence(s.end - len(p.name), s.end, DATA, f"{p.owner}.{p.name}"))

    # -- declarations
    def decl(self, d) -> None:
        if isinstance(d, ir.Agent):
            self.ident(d.name, AGENT, decl=True)
        elif isinstance(d, ir.Data):
            self.ident(d.owner, AGENT)
            self.ident(d.name, DATA, d.qualified, decl=True)
            for col in d.schema or ():
                self.ident(col.name, COLUMN, f"{d.qualified}.{col.name.name}", decl=True)
        elif isinstance(d, ir.Policy):
            self.policy(d)
        elif isinstance(d, ir.Never):
            self.data_pattern(d.data)
            for p in d.agents:
                self.pattern(p)
        elif isinstance(d, ir.Goal):
            self.ident(d.agent, AGENT)
            self.ident(d.contract, CONTRACT)
        elif isinstance(d, ir.Contract):
            self.contract(d)

    def policy(self, d: ir.Policy) -> None:
        self.ident(d.owner, AGENT)
        for r in d.rules:
            if not r.function.is_wildcard and _valid(r.function.span):
                self.add(r.function.span, FUNCTION, r.function.value)
            for p in r.data:
                self.data_pattern(p)
            for p in r.to:
                self.pattern(p)
            for f in r.except_:
                self.ident(f, FUNCTION)

    def contract(self, d: ir.Contract) -> None:
        self.ident(d.name, CONTRACT, decl=True)
        if d.by is not None:
            self.ident(d.by, AGENT, context=d)
        if d.keep_as is not None:
            self.ident(d.keep_as, KEPT, decl=True, context=d)
        for t in d.to:
            self.ident(t, AGENT, context=d)
        for clause, e in contract_exprs(d):
            self.expr(e, d, clause == ENSURE)

    # -- expressions
    def _bind(self, forall: ir.ForAll, scope) -> tuple[ir.Ident, list[str]]:
        """A loop variable in scope: where it is declared, and the agents it ranges over."""
        agents = self.symbols.agent_values(forall.iterable, {k: v[1] for k, v in scope.items()})
        return forall.var, agents

    def expr(self, root: ir.Expr, contract: ir.Contract, ensure: bool) -> None:
        for node, scope in walk_list(root, EMPTY_SCOPE, self._bind):
            cls = type(node)
            if cls is ir.Name:
                self.name(node, scope, contract, ensure)
            elif cls is ir.Attribute:
                base = node.value
                if isinstance(base, ir.Name):
                    if base.id in scope:
                        keys = tuple(f"{a}.{node.attr.name}" for a in scope[base.id][1])
                        self.ident(node.attr, DATA, keys[0] if keys else f"{base.id}.{node.attr.name}", keys=keys,
                                   context=contract)
                    else:
                        self.ident(node.attr, DATA, f"{base.id}.{node.attr.name}", context=contract)
            elif cls is ir.Call:
                self.ident(node.func, FUNCTION, context=contract)
                for k in node.kwargs:
                    self.ident(k.name, PARAM, k.name.name, context=node)
            elif cls is ir.ForAll:
                _var, agents = self._bind(node, scope)
                self.ident(node.var, VARIABLE, decl=True, keys=tuple(agents), def_span=node.var.span,
                           context=contract)

    def name(self, node: ir.Name, scope, contract: ir.Contract, ensure: bool) -> None:
        if not _valid(node.span):
            return
        if node.id in scope:
            var, agents = scope[node.id]
            self.add(node.span, VARIABLE, node.id, def_span=var.span, keys=tuple(agents), context=contract)
        elif node.id == RESULT and ensure:
            self.add(node.span, RESULT_KIND, RESULT, context=contract)
        else:
            kind = _KINDS.get(self.symbols.kind_of(node.id), NAME)
            self.add(node.span, kind, node.id, context=contract)
