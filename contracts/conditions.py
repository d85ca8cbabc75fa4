"""Render and evaluate `require`/`ensure` conditions, straight from the IR.

The evaluator knows only the .dsc expression language: names of agents, data (`owner.name`,
`b.test`), kept results, `result`, literals, lists, operators, quantifiers and calls by name.
It never touches Python attributes of values and never evaluates Python text; function
calls and data reads go through the callbacks it is given (the escrow records every read).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable

from datastation.dsl import ir
from datastation.dsl.printer import to_source  # the one printer: conditions read as `dsc fmt` writes them

# ---------------------------------------------------------------- evaluation


class ConditionError(Exception):
    """A condition could not be evaluated (bad value, failing function, unknown name)."""

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.span = span


@dataclass(frozen=True, slots=True)
class AgentRef:
    """An agent as a value: the element of `for b in [bank1, bank2]`."""

    name: str

    def __repr__(self) -> str:
        return self.name


@dataclass(slots=True)
class Comparison:
    text: str  # the comparison as source, with quantifier bindings noted
    left: Any
    right: Any
    held: bool


@dataclass(slots=True)
class ConditionResult:
    kind: str  # "require" | "ensure"
    index: int  # 1-based among its kind
    text: str
    line: int
    held: bool
    error: str | None = None
    comparisons: list[Comparison] = field(default_factory=list)

    def to_json(self, values: bool = True) -> dict:
        """`values=False` leaves out the compared values (they may describe others' data)."""
        out = {
            "kind": self.kind,
            "index": self.index,
            "condition": self.text,
            "line": self.line,
            "held": self.held,
            "error": self.error,
        }
        if values:
            out["comparisons"] = [
                {"comparison": c.text, "left": _jsonable(c.left), "right": _jsonable(c.right), "held": c.held}
                for c in self.comparisons
            ]
        return out


def _jsonable(v):
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    try:
        import numpy as np

        if isinstance(v, np.generic):
            return _jsonable(v.item())
    except ImportError:  # pragma: no cover
        pass
    return describe(v)


def describe(v) -> str:
    """A short, safe description of a value for messages (no full data dumps)."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (bool, int, str, AgentRef)) or v is None:
        return repr(v)
    try:
        import numpy as np

        if isinstance(v, np.generic):
            return describe(v.item())
    except ImportError:  # pragma: no cover
        pass
    shape = getattr(v, "shape", None)
    if shape is not None:
        return f"<{type(v).__name__} {'x'.join(map(str, shape))}>"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(describe(x) for x in v[:5]) + (", ..." if len(v) > 5 else "") + "]"
    return f"<{type(v).__name__}>"


_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod}


def _truth(value, span) -> bool:
    try:
        import numpy as np

        if isinstance(value, np.bool_):
            return bool(value)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, bool):
        return value
    raise ConditionError(f"expected true or false, got {describe(value)}", span)


def _scalar(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:  # pragma: no cover
        pass
    return value


class Evaluator:
    """Evaluates condition expressions.

    `load(key)` returns the value of a DE key ("owner.name") or kept name (and records the
    read); `call(name, args, kwargs)` runs a stdlib or user function by name.
    """

    def __init__(self, agents, load: Callable[[str], Any], call: Callable[[str, list, dict], Any], kept=()):
        self.agents = frozenset(agents)
        self.kept = frozenset(kept)
        self.load = load
        self.call = call
        self.trace: list[Comparison] | None = None

    def check(self, expr, kind: str, index: int, result: Any = None, with_result: bool = False) -> ConditionResult:
        env = {"result": result} if with_result else {}
        out = ConditionResult(kind=kind, index=index, text=to_source(expr), line=expr.span.line, held=False)
        self.trace = out.comparisons
        try:
            out.held = _truth(self.eval(expr, env, {}), expr.span)
        except ConditionError as exc:
            out.error = str(exc)
        finally:
            self.trace = None
        return out

    def eval(self, expr, env: dict, names: dict):
        match expr:
            case ir.Num(value=v) | ir.Str(value=v) | ir.Bool(value=v):
                return v
            case ir.ListExpr(items=items):
                return [self.eval(i, env, names) for i in items]
            case ir.Name(id=i):
                if i in env:
                    return env[i]
                if i in self.kept:
                    return self.load(i)
                if i in self.agents:
                    return AgentRef(i)
                raise ConditionError(f"unknown name '{i}'", expr.span)
            case ir.Attribute(value=base, attr=attr):
                owner = self.eval(base, env, names) if not (isinstance(base, ir.Name) and base.id in self.agents and base.id not in env) else AgentRef(base.id)
                if not isinstance(owner, AgentRef):
                    raise ConditionError(f"'{to_source(base)}' is not an agent, so it has no data '{attr.name}'", expr.span)
                return self.load(f"{owner.name}.{attr.name}")
            case ir.Call(func=f, args=args, kwargs=kwargs):
                a = [self.eval(x, env, names) for x in args]
                k = {kw.name.name: self.eval(kw.value, env, names) for kw in kwargs}
                return self.call(f.name, a, k)
            case ir.UnaryOp(op="not", operand=o):
                return not _truth(self.eval(o, env, names), o.span)
            case ir.UnaryOp(op="-", operand=o):
                v = _scalar(self.eval(o, env, names))
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise ConditionError(f"cannot negate {describe(v)}", expr.span)
                return -v
            case ir.BinOp(op="and", left=l, right=r):
                return _truth(self.eval(l, env, names), l.span) and _truth(self.eval(r, env, names), r.span)
            case ir.BinOp(op="or", left=l, right=r):
                return _truth(self.eval(l, env, names), l.span) or _truth(self.eval(r, env, names), r.span)
            case ir.BinOp(op=op, left=l, right=r) if op in _CMP:
                lv = _scalar(self.eval(l, env, names))
                rv = _scalar(self.eval(r, env, names))
                try:
                    held = bool(_CMP[op](lv, rv))
                except (TypeError, ValueError) as exc:
                    raise ConditionError(f"cannot compare {describe(lv)} {op} {describe(rv)}", expr.span) from exc
                if self.trace is not None:
                    where = ", ".join(f"{k} = {v}" for k, v in names.items())
                    text = to_source(expr) + (f"  (with {where})" if where else "")
                    self.trace.append(Comparison(text=text, left=lv, right=rv, held=held))
                return held
            case ir.BinOp(op=op, left=l, right=r) if op in _ARITH:
                lv = _scalar(self.eval(l, env, names))
                rv = _scalar(self.eval(r, env, names))
                ok = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
                if op == "+" and isinstance(lv, str) and isinstance(rv, str):
                    return lv + rv
                if not (ok(lv) and ok(rv)):
                    raise ConditionError(f"cannot compute {describe(lv)} {op} {describe(rv)}", expr.span)
                try:
                    return _ARITH[op](lv, rv)
                except ZeroDivisionError as exc:
                    raise ConditionError("division by zero", expr.span) from exc
            case ir.ForAll(var=var, iterable=it, body=body):
                items = self.eval(it, env, names)
                if not isinstance(items, list):
                    raise ConditionError(f"'for' needs a list, got {describe(items)}", it.span)
                for item in items:
                    inner_names = {**names, var.name: describe(item) if not isinstance(item, AgentRef) else item.name}
                    if not _truth(self.eval(body, {**env, var.name: item}, inner_names), body.span):
                        return False
                return True
        raise ConditionError(f"cannot evaluate {type(expr).__name__}", getattr(expr, "span", None))
