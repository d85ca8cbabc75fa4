"""Binding call arguments to a function's parameters, as Python would."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ir
from .signatures import FunctionSig, Param


@dataclass(slots=True)
class Binding:
    """Which argument expression each parameter receives, and what did not fit."""

    bound: dict[str, tuple[Param, ir.Expr]] = field(default_factory=dict)
    unknown: list[ir.Keyword] = field(default_factory=list)
    extra_positional: list[ir.Expr] = field(default_factory=list)
    duplicate: list[ir.Keyword] = field(default_factory=list)
    missing: list[Param] = field(default_factory=list)


_SHAPES: dict[int, tuple] = {}  # id(sig) -> (sig, positional, var_pos, var_kw, by_name, required)


def _shape(sig: FunctionSig) -> tuple:
    """What binding needs from a signature, computed once per signature."""
    found = _SHAPES.get(id(sig))
    if found is None or found[0] is not sig:
        by_name = {p.name: p for p in sig.params if p.kind in ("positional", "keyword_only")}
        found = _SHAPES[id(sig)] = (
            sig,
            [p for p in sig.params if p.kind == "positional"],
            next((p for p in sig.params if p.kind == "var_positional"), None),
            next((p for p in sig.params if p.kind == "var_keyword"), None),
            by_name,
            [p for p in by_name.values() if not p.has_default],
        )
    return found


def bind(sig: FunctionSig, call: ir.Call) -> Binding:
    b = Binding()
    _sig, positional, var_pos, var_kw, by_name, required = _shape(sig)
    for i, arg in enumerate(call.args):
        if i < len(positional):
            b.bound[positional[i].name] = (positional[i], arg)
        elif var_pos is not None:
            b.bound[f"*{i}"] = (var_pos, arg)
        else:
            b.extra_positional.append(arg)
    for kw in call.kwargs:
        name = kw.name.name
        if name in b.bound:
            b.duplicate.append(kw)
        elif name in by_name:
            b.bound[name] = (by_name[name], kw.value)
        elif var_kw is not None:
            b.bound[name] = (var_kw, kw.value)
        else:
            b.unknown.append(kw)
    b.missing = [p for p in required if p.name not in b.bound]
    return b
