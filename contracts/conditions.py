"""Render and evaluate `require`/`ensure` conditions, straight from the IR.

The evaluator knows only the .dsc expression language: names of agents, data (`owner.name`,
`b.test`), kept results, `result`, literals, lists, operators, quantifiers and calls by name.
It never touches Python attributes of values and never evaluates Python text; function
calls and data reads go through the callbacks it is given (the escrow records every read).

What a report may show of a value (nothing derived from data leaves before release):

- a number or boolean that a **built-in** function returned (`rows(bank1.train)`,
  `accuracy(result, b.test, "is_fraud")`), or arithmetic over such numbers and literals:
  the condition that computes it is part of the contract its owners approved;
- a literal of the contract text, and an agent;
- everything else (data, kept results, `result` itself, whatever a user function returns,
  and anything computed from those) only by its type and shape: `<DataFrame 20x3>`,
  `<float>`, `<str>`. So the scalar result of a contract whose `ensure` failed is never
  shown, while `minimum(result, "n")` is.

Error messages describe values by type and shape only.
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
    left: Any  # a number/boolean a report may show, or a description by type and shape (see the module doc)
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


def show(v) -> str:
    """A value a report may show (a number, a boolean, a literal or an agent) as text."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, AgentRef):
        return v.name
    if isinstance(v, (bool, int)) or v is None:
        return repr(v)
    if isinstance(v, str) and v.startswith("<") and v.endswith(">"):
        return v  # already a description
    return repr(v)


_PLAIN = ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (bytes, "bytes"), (dict, "dict"))


def describe(v) -> str:
    """A value by its type and shape only (`<DataFrame 20x3>`, `<str>`, `<list of 4>`): never
    its contents, and never a type name user code chose (a class is named only when it is a
    known type), so that the description carries nothing derived from data."""
    if v is None:
        return "<none>"
    if isinstance(v, AgentRef):
        return v.name
    try:
        import numpy as np

        if isinstance(v, np.generic):
            return describe(v.item())
        if isinstance(v, np.ndarray):
            return f"<array {'x'.join(map(str, v.shape))}>"
    except ImportError:  # pragma: no cover
        pass
    for cls, name in _PLAIN:
        if isinstance(v, cls):
            return f"<{name} of {len(v)}>" if cls is dict else f"<{name}>"
    if isinstance(v, (list, tuple)):
        return f"<list of {len(v)}>"
    try:
        import pandas as pd

        if isinstance(v, pd.DataFrame):
            return f"<DataFrame {v.shape[0]}x{v.shape[1]}>"
        if isinstance(v, pd.Series):
            return f"<Series {len(v)}>"
    except ImportError:  # pragma: no cover
        pass
    try:
        from datastation.stdlib.models import LinearModel

        if isinstance(v, LinearModel):
            return "<model>"
    except ImportError:  # pragma: no cover
        pass
    return "<object>"


# How much of a value a report may show, from the expression that computed it (see the module doc).
LITERAL, AGGREGATE, PRIVATE = 2, 1, 0


def shown(value, level: int):
    """The value itself when a report may show it at `level`, else its description."""
    value = _scalar(value)
    if isinstance(value, AgentRef):
        return value
    if level >= AGGREGATE and isinstance(value, (bool, int, float)):
        return value
    if level >= LITERAL and isinstance(value, str):
        return value
    return describe(value)


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


def _builtin_names() -> frozenset[str]:
    from datastation.stdlib import BUILTINS

    return frozenset(BUILTINS)


class Evaluator:
    """Evaluates condition expressions.

    `load(key)` returns the value of a DE key ("owner.name") or kept name (and records the
    read); `call(name, args, kwargs)` runs a stdlib or user function by name. `builtins`
    names the functions whose numbers a report may show (default: the stdlib's built-ins).
    """

    def __init__(self, agents, load: Callable[[str], Any], call: Callable[[str, list, dict], Any], kept=(),
                 builtins=None):
        self.agents = frozenset(agents)
        self.kept = frozenset(kept)
        self.load = load
        self.call = call
        self.builtins = _builtin_names() if builtins is None else frozenset(builtins)
        self.trace: list[Comparison] | None = None

    def level(self, expr, names: dict) -> int:
        """How much of `expr`'s value a report may show: LITERAL, AGGREGATE or PRIVATE."""
        match expr:
            case ir.Num() | ir.Str() | ir.Bool():
                return LITERAL
            case ir.ListExpr(items=items):
                return min((self.level(i, names) for i in items), default=LITERAL)
            case ir.Name(id=i):
                if i in names:
                    return names[i][1]
                return LITERAL if i in self.agents and i not in self.kept else PRIVATE
            case ir.Call(func=f):
                return AGGREGATE if f.name in self.builtins else PRIVATE
            case ir.UnaryOp(op="-", operand=o):
                return self.level(o, names)
            case ir.BinOp(op=op, left=l, right=r) if op in _ARITH:
                return min(self.level(l, names), self.level(r, names))
            case ir.UnaryOp() | ir.BinOp() | ir.ForAll():
                return AGGREGATE  # a truth value, which the report shows anyway (held or not)
        return PRIVATE

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
                    where = ", ".join(f"{k} = {v[0]}" for k, v in names.items())
                    text = to_source(expr) + (f"  (with {where})" if where else "")
                    self.trace.append(Comparison(text=text, left=shown(lv, self.level(l, names)),
                                                 right=shown(rv, self.level(r, names)), held=held))
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
                level = self.level(it, names)
                for item in items:
                    inner_names = {**names, var.name: (show(shown(item, level)), level)}
                    if not _truth(self.eval(body, {**env, var.name: item}, inner_names), body.span):
                        return False
                return True
        raise ConditionError(f"cannot evaluate {type(expr).__name__}", getattr(expr, "span", None))
