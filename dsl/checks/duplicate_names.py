"""DSC025: a name declared twice (agents, data elements, contracts, kept results)."""

from __future__ import annotations

from .. import codes, ir
from ..diagnostics import Related, Span, error

CODES = (codes.DUPLICATE_NAME,)


def check(ctx):
    seen: dict[tuple[str, str], ir.Ident] = {}
    for decl in ctx.program.decls:
        if isinstance(decl, ir.Agent):
            entries = [("agent", decl.name.name, decl.name)]
        elif isinstance(decl, ir.Data):
            entries = [("data", decl.qualified, ir.Ident(name=decl.qualified,
                                                         span=Span.cover(decl.owner.span, decl.name.span)))]
        elif isinstance(decl, ir.Contract):
            entries = [("contract", decl.name.name, decl.name)]
            if decl.keep_as is not None:
                entries.append(("bare", decl.keep_as.name, decl.keep_as))
        else:
            continue
        for kind, name, node in entries:
            # Agents and kept results share one namespace: both are bare names in expressions.
            key = ("bare" if kind == "agent" else kind, name)
            first = seen.get(key)
            if first is None:
                seen[key] = node
                continue
            what = {"agent": "agent", "data": "data element", "contract": "contract", "bare": "kept result"}[kind]
            yield error(
                codes.DUPLICATE_NAME,
                f"{what} '{name}' is declared more than once",
                node.span,
                help="rename one of them",
                related=[Related(message="first declared here", span=first.span)],
            )
