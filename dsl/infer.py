"""Type inference for contract expressions (computations and conditions).

`infer` returns the type of an expression and records type errors on the way. It never
raises for ill-typed input: an expression it cannot type becomes `ANY`, which silences
follow-on errors. It recurses (the fast path) over the IR's child table; an expression nested
deeper than Python's recursion limit (a condition of thousands of `and` terms) is typed again
with an explicit stack.
"""

from __future__ import annotations

from . import codes, ir
from . import types as T
from .diagnostics import Diagnostic, error
from .symbols import RESULT, Symbols


class Inference:
    def __init__(self, symbols: Symbols, result_type: T.Type = T.ANY):
        self.sym = symbols
        self.result_type = result_type
        self.diagnostics: list[Diagnostic] = []

    def _err(self, code: str, message: str, span, help: str | None = None) -> None:
        self.diagnostics.append(error(code, message, span, help=help))

    def infer(self, root: ir.Expr, env: dict[str, T.Type] | None = None) -> T.Type:
        """The type of `root`; errors found on the way are appended to `self.diagnostics`.

        Recursion is the fast path; an expression nested deeper than Python's recursion limit
        is typed again with an explicit stack.
        """
        mark = len(self.diagnostics)
        try:
            return self._recursive(root, env or {}, {})
        except RecursionError:
            del self.diagnostics[mark:]
            return self._iterative(root, env)

    def _recursive(self, node: ir.Expr, scope: dict, types: dict[int, T.Type]) -> T.Type:
        cls = type(node)
        if cls is ir.ForAll:
            item = self._quantified(node, self._recursive(node.iterable, scope, types))
            body = self._recursive(node.body, {**scope, node.var.name: item}, types)
            if not T.assignable(body, T.BOOL):
                self._err(codes.NOT_A_CONDITION, f"the body of 'for' must be a condition, got {T.describe(body)}",
                          node.body.span)
            result = T.BOOL
        elif cls is ir.BinOp:
            right = node.right
            if type(right) is ir.Num:  # `rows(x) >= 100`: type the literal without a call
                rt = types[id(right)] = T.INT if isinstance(right.value, int) else T.FLOAT
                result = self._binop(node, self._recursive(node.left, scope, types), rt)
            else:
                result = self._binop(node, self._recursive(node.left, scope, types),
                                     self._recursive(right, scope, types))
        elif cls is ir.Attribute:
            result = T.TABLE if self._recursive(node.value, scope, types) == T.AGENT else T.ANY
        elif cls is ir.Call:
            for child in node.args:
                if type(child) is ir.Str:  # literals typed without a call
                    types[id(child)] = T.STRING
                else:
                    self._recursive(child, scope, types)
            for k in node.kwargs:
                child = k.value
                if type(child) is ir.Str:
                    types[id(child)] = T.STRING
                else:
                    self._recursive(child, scope, types)
            result = self._Call(node, scope, types)
        elif cls is ir.Name:
            result = self._Name(node, scope, types)
        elif cls is ir.Num:
            result = T.INT if isinstance(node.value, int) else T.FLOAT
        else:
            for child in ir.children(node):
                self._recursive(child, scope, types)
            method = _METHODS.get(cls)
            result = method(self, node, scope, types) if method is not None else T.ANY
        types[id(node)] = result
        return result

    def _iterative(self, root: ir.Expr, env: dict[str, T.Type] | None = None) -> T.Type:
        types: dict[int, T.Type] = {}
        # (node, env, stage): stage 0 = first visit, 1 = children typed, 2 = ForAll body typed.
        stack: list[tuple[ir.Expr, dict, int]] = [(root, env or {}, 0)]
        while stack:
            node, scope, stage = stack.pop()
            if isinstance(node, ir.ForAll):
                if stage == 0:
                    stack.append((node, scope, 1))
                    stack.append((node.iterable, scope, 0))
                elif stage == 1:
                    item = self._quantified(node, types[id(node.iterable)])
                    stack.append((node, scope, 2))
                    stack.append((node.body, {**scope, node.var.name: item}, 0))
                else:
                    body = types[id(node.body)]
                    if not T.assignable(body, T.BOOL):
                        self._err(codes.NOT_A_CONDITION, f"the body of 'for' must be a condition, got {T.describe(body)}",
                                  node.body.span)
                    types[id(node)] = T.BOOL
                continue
            kids = ir.children(node)
            if stage == 0 and kids:
                stack.append((node, scope, 1))
                stack.extend((k, scope, 0) for k in reversed(kids))
                continue
            method = _METHODS.get(type(node))
            types[id(node)] = method(self, node, scope, types) if method is not None else T.ANY
        return types[id(root)]

    # -- leaves
    def _Num(self, e, env, types):
        return T.INT if isinstance(e.value, int) else T.FLOAT

    def _Str(self, e, env, types):
        return T.STRING

    def _Bool(self, e, env, types):
        return T.BOOL

    def _Name(self, e, env, types):
        if e.id in env:
            return env[e.id]
        if e.id == RESULT:
            return self.result_type
        if e.id in self.sym.agents:
            return T.AGENT
        producer = self.sym.kept.get(e.id)
        if producer is not None and producer.call is not None:
            sig = self.sym.functions.get(producer.call.func.name)
            return sig.returns if sig is not None else T.ANY
        return T.ANY

    # -- compound nodes (their children are already typed)
    def _Attribute(self, e, env, types):
        return T.TABLE if types[id(e.value)] == T.AGENT else T.ANY

    def _ListExpr(self, e, env, types):
        if not e.items:
            return T.list_of(T.ANY)
        item = types[id(e.items[0])]
        for x in e.items[1:]:
            item = T.join(item, types[id(x)])
        return T.list_of(item)

    def _Call(self, e, env, types):
        sig = self.sym.functions.get(e.func.name)
        if sig is None:
            return T.ANY
        for _name, (param, value) in self.sym.binding(e).bound.items():
            got = types[id(value)]
            want = T.ANY if param.kind in ("var_positional", "var_keyword") else param.type
            if not T.assignable(got, want):
                self._err(codes.ARGUMENT_TYPE,
                          f"argument '{param.name}' of '{sig.name}' expects {T.describe(want)}, got {T.describe(got)}",
                          value.span, help=_coerce_hint(got, want))
        return sig.returns

    def _UnaryOp(self, e, env, types):
        t = types[id(e.operand)]
        if e.op == "not":
            if not T.assignable(t, T.BOOL):
                self._err(codes.OPERAND_TYPES, f"'not' needs a boolean, got {T.describe(t)}", e.operand.span)
            return T.BOOL
        if t not in (T.INT, T.FLOAT, T.ANY):
            self._err(codes.OPERAND_TYPES, f"'-' needs a number, got {T.describe(t)}", e.operand.span)
            return T.ANY
        return t

    def _BinOp(self, e, env, types):
        return self._binop(e, types[id(e.left)], types[id(e.right)])

    def _binop(self, e, lt, rt):
        op = e.op
        if op in ir.BOOLEAN_OPS:
            for side, t in ((e.left, lt), (e.right, rt)):
                if not T.assignable(t, T.BOOL):
                    self._err(codes.OPERAND_TYPES, f"'{op}' needs booleans, got {T.describe(t)}", side.span,
                              help="compare it with something to make a condition")
            return T.BOOL
        if op in ir.COMPARISON_OPS:
            if T.ANY in (lt, rt):
                return T.BOOL
            numeric = lt in T.NUMERIC and rt in T.NUMERIC
            if op in ("==", "!="):
                if not (numeric or lt == rt):
                    self._err(codes.OPERAND_TYPES, f"cannot compare {T.describe(lt)} with {T.describe(rt)}", e.span)
            elif not (numeric or (lt == rt == T.STRING)):
                self._err(codes.OPERAND_TYPES, f"'{op}' cannot order {T.describe(lt)} and {T.describe(rt)}", e.span,
                          help="only numbers (or two strings) can be ordered")
            return T.BOOL
        # arithmetic
        if T.ANY in (lt, rt):
            return T.ANY
        if lt in T.NUMERIC and rt in T.NUMERIC:
            return T.FLOAT if (op == "/" or T.FLOAT in (lt, rt)) else T.INT
        if op == "+" and lt == rt and lt.name in ("string", "list"):
            return lt
        self._err(codes.OPERAND_TYPES, f"'{op}' cannot combine {T.describe(lt)} and {T.describe(rt)}", e.span)
        return T.ANY

    def _quantified(self, e: ir.ForAll, it: T.Type) -> T.Type:
        """The type of a quantifier's variable, given the type of what it ranges over."""
        if it.name == "list":
            return it.item or T.ANY
        if it != T.ANY:
            self._err(codes.FOR_NOT_A_LIST, f"'for' needs a list to range over, got {T.describe(it)}", e.iterable.span,
                      help="write the elements in brackets: for x in [a, b]: ...")
        return T.ANY


def _coerce_hint(got: T.Type, want: T.Type) -> str | None:
    if want.name == "list" and T.assignable(got, want.item or T.ANY):
        return "put it in a list: [ ... ]"
    return None


_METHODS = {
    cls: getattr(Inference, f"_{cls.__name__}")
    for cls in (ir.Num, ir.Str, ir.Bool, ir.Name, ir.Attribute, ir.ListExpr, ir.Call, ir.UnaryOp, ir.BinOp)
    if hasattr(Inference, f"_{cls.__name__}")
}
