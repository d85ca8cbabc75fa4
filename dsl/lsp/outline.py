"""Document symbols: the outline of a .dsc file."""

from __future__ import annotations

from lsprotocol import types

from .. import ir
from .analysis import Analysis
from .hover import source_of

S = types.SymbolKind


def document_symbols(a: Analysis, range_of) -> list[types.DocumentSymbol]:
    """The outline; `range_of(span)` gives a span's range in the current text (None: edited away)."""
    out: list[types.DocumentSymbol] = []

    def sym(name, kind, node, sel, detail=None, children=None):
        rng, sel_rng = range_of(node.span), range_of(sel.span)
        if rng is None or sel_rng is None:
            return None
        return types.DocumentSymbol(name=name or "?", kind=kind, range=rng, selection_range=sel_rng,
                                    detail=detail, children=[c for c in children or () if c] or None)

    for d in a.program.decls:
        if d.span.end <= d.span.start:
            continue
        if isinstance(d, ir.Use):
            out.append(sym(d.path.value, S.Module, d, d.path, "use"))
        elif isinstance(d, ir.Agent):
            out.append(sym(d.name.name, S.Class, d, d.name, d.display.value if d.display else "agent"))
        elif isinstance(d, ir.Data):
            cols = [sym(c.name.name, S.Field, c, c.name, c.type.name) for c in d.schema or ()]
            out.append(sym(d.qualified, S.Struct, d, d.name, f"{d.format.name} {d.path.value}", cols))
        elif isinstance(d, ir.Policy):
            rules = [sym(source_of(a, rule), S.Boolean if rule.effect == "allow" else S.Null, rule, rule,
                         rule.effect) for rule in d.rules]
            out.append(sym(f"policy {d.owner.name}", S.Namespace, d, d.owner, f"{len(d.rules)} rule(s)", rules))
        elif isinstance(d, ir.Never):
            out.append(sym(source_of(a, d), S.Constant, d, d, "never"))
        elif isinstance(d, ir.Goal):
            out.append(sym(f"goal {d.agent.name} receives {d.contract.name}", S.Event, d, d, "goal"))
        elif isinstance(d, ir.Contract):
            children = []
            if d.keep_as is not None:
                children.append(sym(d.keep_as.name, S.Variable, d.keep_as, d.keep_as, "kept result"))
            detail = f"by {d.by.name}" if d.by is not None else None
            if d.call is not None:
                detail = (detail + ": " if detail else "") + d.call.func.name
            out.append(sym(d.name.name, S.Function, d, d.name, detail, children))
    return [s for s in out if s is not None]
