"""DSC020-DSC024, DSC044: names that denote nothing, or denote the wrong kind of thing.

Declaration roles (data owners, proposers, recipients, policy owners) have their own rules,
and so have the functions a policy names (DSC064, `policy_functions`); this one covers
expressions, functions, goals, `never` patterns and the data and agents of policy rules.
"""

from __future__ import annotations

from .. import codes, ir
from ..diagnostics import error
from ..symbols import RESULT
from ..walk import contract_exprs, did_you_mean

CODES = (codes.UNDEFINED_AGENT, codes.UNDEFINED_DATA, codes.UNDEFINED_FUNCTION, codes.UNDEFINED_CONTRACT,
         codes.UNDEFINED_NAME, codes.ATTRIBUTE_OF_NON_AGENT)


def check(ctx):
    sym = ctx.symbols
    skip = ctx.broken
    for c in ctx.program.contracts:
        for _clause, expr in contract_exprs(c):
            if sym.may_have_unknown_names(expr):
                yield from _expression(ctx, expr)
    for g in ctx.program.goals:
        if g.agent.name not in sym.agents and g.agent.name not in skip:
            yield error(codes.UNDEFINED_AGENT, f"undefined agent '{g.agent.name}'", g.agent.span,
                        help=did_you_mean(g.agent.name, sym.agents))
        if g.contract.name not in sym.contracts and g.contract.name not in skip:
            yield error(codes.UNDEFINED_CONTRACT, f"undefined contract '{g.contract.name}'", g.contract.span,
                        help=did_you_mean(g.contract.name, sym.contracts))
    for n in ctx.program.nevers:
        yield from _data_pattern(ctx, n.data)
        for p in n.agents:
            yield from _agent_pattern(ctx, p)
    for p in ctx.program.policies:
        for rule in p.rules:
            unknown_owner = p.owner.name if p.owner.name not in sym.agents else None
            for d in rule.data:
                yield from _data_pattern(ctx, d, unknown_owner)
            for a in rule.to:
                yield from _agent_pattern(ctx, a)


def _expression(ctx, expr: ir.Expr):
    """Names in one computation or condition, with quantifier variables bound to the agents they range over."""
    sym = ctx.symbols
    skip = ctx.broken
    functions = sym.functions
    agents, kept, data = sym.agents, sym.kept, sym.data
    base_name = None  # the `Name` under the `Attribute` just seen: checked with the attribute
    for node, scope in sym.walk(expr):
        cls = type(node)
        if cls is ir.Attribute:
            if type(node.value) is not ir.Name:
                continue
            base_name = node.value
            base, attr = base_name.id, node.attr.name
            if base in scope:
                if all(f"{a}.{attr}" in data for a in scope[base]):
                    continue
            elif base in agents and f"{base}.{attr}" in data:
                continue  # the common case, decided without the generator below
            yield from _attribute(ctx, node, scope)
        elif cls is ir.Call:
            if node.func.name not in functions:
                yield from _function(ctx, node.func)
        elif cls is ir.Name:
            name = node.id
            if node is base_name or name in scope or name == RESULT or name in agents or name in kept or name in skip:
                continue
            what = sym.kind_of(name)
            if what is not None:
                yield error(codes.UNDEFINED_NAME, f"'{name}' is a {what}, not a value", node.span,
                            help="use an agent, a data element, a kept result or a literal here")
            else:
                yield error(codes.UNDEFINED_NAME, f"undefined name '{name}'", node.span,
                            help=did_you_mean(name, [*agents, *kept, *scope]))


def _function(ctx, ident):
    name = ident.name if isinstance(ident, ir.Ident) else ident.value
    if name not in ctx.symbols.functions and not _module_unreadable(ctx):
        yield error(codes.UNDEFINED_FUNCTION, f"undefined function '{name}'", ident.span,
                    help=did_you_mean(name, ctx.symbols.functions)
                    or "define it in a module named by `use`, or use a built-in function")


def _module_unreadable(ctx) -> bool:
    # A missing or broken module is reported once (DSC030/DSC031); its functions are then unknown.
    return "use" in ctx.broken or any(m.error is not None for m in ctx.symbols.modules)


def _attribute(ctx, node: ir.Attribute, bound):
    sym = ctx.symbols
    base = node.value.id
    if base in bound:
        # `for b in [bank1, bank2]: ... b.test ...` needs bank1.test and bank2.test: one report names all gaps.
        missing = [a for a in bound[base] if f"{a}.{node.attr.name}" not in sym.data
                   and f"{a}.{node.attr.name}" not in ctx.broken]
        if missing:
            keys = ", ".join(f"'{a}.{node.attr.name}'" for a in missing)
            owned = [k.split(".", 1)[1] for k in sym.data if k.startswith(missing[0] + ".")]
            yield error(codes.UNDEFINED_DATA, f"undefined data element {keys} (when {base} is {' or '.join(missing)})",
                        node.span, help=did_you_mean(node.attr.name, owned))
        return
    if base in sym.agents:
        key = f"{base}.{node.attr.name}"
        if key not in sym.data and key not in ctx.broken:
            owned = [k.split(".", 1)[1] for k in sym.data if k.startswith(base + ".")]
            yield error(codes.UNDEFINED_DATA, f"undefined data element '{key}'", node.span,
                        help=did_you_mean(node.attr.name, owned))
        return
    if base in ctx.broken or f"{base}.{node.attr.name}" in sym.data:
        return  # a declared data element whose owner is not an agent is reported once (DSC051)
    what = sym.kind_of(base)
    if what is not None:
        yield error(codes.ATTRIBUTE_OF_NON_AGENT, f"'{base}' is a {what}; only an agent has data elements (`agent.name`)",
                    node.value.span)
    else:
        yield error(codes.UNDEFINED_AGENT, f"undefined agent '{base}'", node.value.span,
                    help=did_you_mean(base, [*sym.agents, *bound]))


def _data_pattern(ctx, pat: ir.DataPattern, reported_owner: str | None = None):
    sym = ctx.symbols
    if pat.owner == reported_owner or f"{pat.owner}.{pat.name}" in sym.data:
        return  # the owner is reported once, where it is declared (DSC051, DSC053)
    if pat.owner != "*" and pat.owner not in sym.agents and pat.owner not in ctx.broken:
        yield error(codes.UNDEFINED_AGENT, f"undefined agent '{pat.owner}'", pat.span,
                    help=did_you_mean(pat.owner, sym.agents))
    elif pat.owner != "*" and pat.name != "*":
        key = f"{pat.owner}.{pat.name}"
        if key not in sym.data and key not in ctx.broken:
            owned = [k.split(".", 1)[1] for k in sym.data if k.startswith(pat.owner + ".")]
            yield error(codes.UNDEFINED_DATA, f"undefined data element '{key}'", pat.span,
                        help=did_you_mean(pat.name, owned))


def _agent_pattern(ctx, pat: ir.Pattern):
    if not pat.is_wildcard and pat.value not in ctx.symbols.agents and pat.value not in ctx.broken:
        yield error(codes.UNDEFINED_AGENT, f"undefined agent '{pat.value}'", pat.span,
                    help=did_you_mean(pat.value, ctx.symbols.agents))
