"""Binding call arguments to a function's parameters, as Python binds them.

Positional arguments fill the positional-only and then the positional-or-keyword parameters in
order, the rest go to `*args` (or are too many). A keyword argument names a positional-or-keyword
or keyword-only parameter; a name that is no such parameter goes to `**kwargs`, if there is one
(a positional-only parameter's name included: Python then leaves that parameter unfilled);
without `**kwargs` it is unknown, or a positional-only parameter passed by keyword.
`tests/properties/test_binding_matches_python.py` holds this to Python's own calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ir
from .signatures import FunctionSig, Param


@dataclass(slots=True)
class Binding:
    """Which argument expression each parameter receives, and what did not fit.

    `bound` is keyed by parameter name for named parameters, `*i` for the i-th positional
    argument caught by `*args` and `**name` for a keyword argument caught by `**kwargs`.
    """

    bound: dict[str, tuple[Param, ir.Expr]] = field(default_factory=dict)
    unknown: list[ir.Keyword] = field(default_factory=list)
    extra_positional: list[ir.Expr] = field(default_factory=list)
    duplicate: list[ir.Keyword] = field(default_factory=list)
    missing: list[Param] = field(default_factory=list)
    positional_only: list[ir.Keyword] = field(default_factory=list)  # passed by keyword (no `**kwargs`)

    @property
    def fits(self) -> bool:
        """Whether Python would accept the call."""
        return not (self.unknown or self.extra_positional or self.duplicate or self.missing or self.positional_only)


_SHAPES: dict[int, tuple] = {}  # id(sig) -> (sig, positional, var_pos, var_kw, by_keyword, pos_only, required)


def _shape(sig: FunctionSig) -> tuple:
    """What binding needs from a signature, computed once per signature."""
    found = _SHAPES.get(id(sig))
    if found is None or found[0] is not sig:
        params = sig.params
        found = _SHAPES[id(sig)] = (
            sig,
            [p for p in params if p.kind in ("positional_only", "positional")],
            next((p for p in params if p.kind == "var_positional"), None),
            next((p for p in params if p.kind == "var_keyword"), None),
            {p.name: p for p in params if p.kind in ("positional", "keyword_only")},
            {p.name: p for p in params if p.kind == "positional_only"},
            [p for p in params if not p.has_default and p.kind not in ("var_positional", "var_keyword")],
        )
    return found


def bind(sig: FunctionSig, call: ir.Call) -> Binding:
    b = Binding()
    _sig, positional, var_pos, var_kw, by_keyword, pos_only, required = _shape(sig)
    bound = b.bound
    for i, arg in enumerate(call.args):
        if i < len(positional):
            bound[positional[i].name] = (positional[i], arg)
        elif var_pos is not None:
            bound[f"*{i}"] = (var_pos, arg)
        else:
            b.extra_positional.append(arg)
    named: set[str] = set()  # keyword names seen (a name given twice is a duplicate)
    for kw in call.kwargs:
        name = kw.name.name
        param = by_keyword.get(name)
        if name in named or (param is not None and name in bound):
            b.duplicate.append(kw)
        elif param is not None:
            bound[name] = (param, kw.value)
        elif var_kw is not None:
            bound[f"**{name}"] = (var_kw, kw.value)
        elif name in pos_only:
            b.positional_only.append(kw)
        else:
            b.unknown.append(kw)
        named.add(name)
    by_keyword_only = {kw.name.name for kw in b.positional_only}
    # A positional-only parameter passed by keyword is one mistake, reported as such, not also as missing.
    b.missing = [p for p in required if p.name not in bound and p.name not in by_keyword_only]
    return b
