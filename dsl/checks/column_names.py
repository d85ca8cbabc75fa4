"""DSC045: a column name passed to a function must be a column of the table it names one of.

A parameter annotated `Column` (or `list[Column]`, `Column["param", ...]`; see
`signatures.column_target`) names columns of the tables the same call passes: of every table
argument, or of those passed as the named parameters. Each string literal given for it is
checked against what is known of those tables' columns: a data element's declared schema; a
kept result, `result` or a nested call, the columns of the producing call's result when its
function declares them (`RESULT_COLUMNS`, e.g. `aggregate`). Anything else is not checked.
"""

from __future__ import annotations

from .. import codes, ir
from .. import types as T
from ..diagnostics import error
from ..symbols import RESULT
from ..walk import ENSURE, closest, contract_exprs

CODES = (codes.UNKNOWN_COLUMN,)

_TABLE_TYPES = (T.TABLE, T.list_of(T.TABLE))
_COLUMN_PARAMS: dict[int, tuple] = {}  # id(sig) -> (sig, its column parameters)


def _column_params(sig) -> tuple:
    found = _COLUMN_PARAMS.get(id(sig))
    if found is None or found[0] is not sig:
        found = _COLUMN_PARAMS[id(sig)] = (sig, tuple(p for p in sig.params if p.columns_of is not None))
    return found[1]


def check(ctx):
    sym = ctx.symbols
    naming = {name for name, sig in sym.functions.items() if _column_params(sig)}  # functions that take columns
    for c in ctx.program.contracts:
        for clause, expr in contract_exprs(c):
            calls = [call for call in sym.calls(expr) if call.func.name in naming]
            if not calls:
                continue
            wanted = {id(call) for call in calls}
            columns = _Columns(sym, c if clause == ENSURE else None)
            for node, scope in sym.walk(expr):
                if id(node) in wanted:
                    yield from _call(columns, node, scope)


def _call(columns: _Columns, call: ir.Call, scope):
    sig = columns.sym.functions[call.func.name]
    bound = columns.sym.binding(call).bound
    tables = [p.name for p in sig.params if p.type in _TABLE_TYPES]
    for param in _column_params(sig):
        if param.name not in bound:
            continue
        names = _strings(bound[param.name][1])
        if not names:
            continue
        known = []  # (what the table is, its columns), for each table the names must be in
        for target in param.columns_of or tables:
            if target in bound:
                known += columns.of(bound[target][1], scope)
        for name in names:
            lacking = [(label, cols) for label, cols in known if name.value not in cols]
            if not lacking:
                continue
            label, cols = lacking[0]
            close = closest(name.value, cols)
            listed = ", ".join(label for label, _ in lacking)
            yield error(codes.UNKNOWN_COLUMN, f"'{name.value}' is not a column of {listed}", name.span,
                        help=f"did you mean '{close}'?" if close else _columns_help(label, cols))


def _strings(expr: ir.Expr) -> list[ir.Str]:
    """The string literals given as column names: a string, or the strings of a list."""
    if type(expr) is ir.Str:
        return [expr]
    if type(expr) is ir.ListExpr:
        return [item for item in expr.items if type(item) is ir.Str]
    return []


def _columns_help(label: str, cols: tuple[str, ...]) -> str:
    shown = ", ".join(cols[:12]) + (", ..." if len(cols) > 12 else "")
    return f"the columns of {label}: {shown}"


class _Columns:
    """What is known of the columns of the tables an expression denotes."""

    def __init__(self, sym, ensuring: ir.Contract | None):
        self.sym = sym
        self.ensuring = ensuring  # the contract whose `result` an ensure condition reads

    def of(self, expr: ir.Expr, scope) -> list[tuple[str, tuple[str, ...]]]:
        """(label, columns) for each table `expr` denotes whose columns are known."""
        cls = type(expr)
        if cls is ir.ListExpr:
            return [found for item in expr.items for found in self.of(item, scope)]
        if cls is ir.Attribute and type(expr.value) is ir.Name:
            base = expr.value.id
            owners = scope[base] if base in scope else (base,) if base in self.sym.agents else ()
            out = []
            for owner in owners:
                d = self.sym.data.get(f"{owner}.{expr.attr.name}")
                if d is not None and d.schema is not None:
                    out.append((d.qualified, tuple(col.name.name for col in d.schema)))
            return out
        if cls is ir.Name and expr.id not in scope:
            if expr.id == RESULT and self.ensuring is not None and self.ensuring.call is not None:
                return self._result(f"the result of {self.ensuring.call.func.name}(...)", self.ensuring.call)
            producer = self.sym.kept.get(expr.id)
            if producer is not None and producer.call is not None:
                return self._result(f"kept result '{expr.id}'", producer.call)
            return []
        if cls is ir.Call:
            return self._result(f"the result of {expr.func.name}(...)", expr)
        return []

    def _result(self, label: str, call: ir.Call) -> list[tuple[str, tuple[str, ...]]]:
        sig = self.sym.functions.get(call.func.name)
        if sig is None or sig.result_columns is None:
            return []
        bound = self.sym.binding(call).bound
        cols: list[str] = []
        for template in sig.result_columns:
            if template.startswith("*"):
                given = bound.get(template[1:])
                items = given[1].items if given is not None and type(given[1]) is ir.ListExpr else None
                if items is None or any(type(i) is not ir.Str for i in items):
                    return []  # not known before the run
                cols += [i.value for i in items]
                continue
            try:
                cols.append(template.format_map(_Literals(bound)))
            except (KeyError, ValueError, IndexError, AttributeError):
                return []
        return [(label, tuple(cols))]


class _Literals(dict):
    """`str.format_map` over a call's string arguments; any other argument is not known (KeyError)."""

    def __init__(self, bound):
        super().__init__()
        self.bound = bound

    def __missing__(self, key: str) -> str:
        given = self.bound.get(key)
        if given is None or type(given[1]) is not ir.Str:
            raise KeyError(key)
        return given[1].value
