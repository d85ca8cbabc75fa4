"""Type inference for contract expressions (computations and conditions).

`infer` returns the type of an expression and records type errors on the way. It never
raises for ill-typed input: an expression it cannot type becomes `ANY`, which silences
follow-on errors.
"""

from __future__ import annotations

from . import ir
from . import types as T
from .binding import bind
from .diagnostics import Diagnostic, error
from .symbols import RESULT, Symbols


class Inference:
    def __init__(self, symbols: Symbols, result_type: T.Type = T.ANY):
        self.sym = symbols
        self.result_type = result_type
        self.diagnostics: list[Diagnostic] = []

    def _err(self, code: str, message: str, span, help: str | None = None) -> None:
        self.diagnostics.append(error(code, message, span, help=help))

    def infer(self, e: ir.Expr, env: dict[str, T.Type] | None = None) -> T.Type:
        env = env or {}
        method = getattr(self, f"_{type(e).__name__}")
        return method(e, env)

    # -- leaves
    def _Num(self, e, env):
        return T.INT if isinstance(e.value, int) else T.FLOAT

    def _Str(self, e, env):
        return T.STRING

    def _Bool(self, e, env):
        return T.BOOL

    def _Name(self, e, env):
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

    def _Attribute(self, e, env):
        base = self.infer(e.value, env)
        if base == T.AGENT:
            return T.TABLE
        return T.ANY

    def _ListExpr(self, e, env):
        if not e.items:
            return T.list_of(T.ANY)
        item = self.infer(e.items[0], env)
        for x in e.items[1:]:
            item = T.join(item, self.infer(x, env))
        return T.list_of(item)

    def _Call(self, e, env):
        sig = self.sym.functions.get(e.func.name)
        arg_types = {id(a): self.infer(a, env) for a in (*e.args, *(k.value for k in e.kwargs))}
        if sig is None:
            return T.ANY
        for name, (param, value) in bind(sig, e).bound.items():
            got = arg_types[id(value)]
            want = param.type
            if param.kind == "var_positional" or param.kind == "var_keyword":
                want = T.ANY
            if not T.assignable(got, want):
                self._err("DSC042",
                          f"argument '{param.name}' of '{sig.name}' expects {T.describe(want)}, got {T.describe(got)}",
                          value.span, help=_coerce_hint(got, want))
        return sig.returns

    def _UnaryOp(self, e, env):
        t = self.infer(e.operand, env)
        if e.op == "not":
            if not T.assignable(t, T.BOOL):
                self._err("DSC041", f"'not' needs a boolean, got {T.describe(t)}", e.operand.span)
            return T.BOOL
        if t not in (T.INT, T.FLOAT, T.ANY):
            self._err("DSC041", f"'-' needs a number, got {T.describe(t)}", e.operand.span)
            return T.ANY
        return t

    def _BinOp(self, e, env):
        lt, rt = self.infer(e.left, env), self.infer(e.right, env)
        op = e.op
        if op in ir.BOOLEAN_OPS:
            for side, t in ((e.left, lt), (e.right, rt)):
                if not T.assignable(t, T.BOOL):
                    self._err("DSC041", f"'{op}' needs booleans, got {T.describe(t)}", side.span,
                              help="compare it with something to make a condition")
            return T.BOOL
        if op in ir.COMPARISON_OPS:
            if T.ANY in (lt, rt):
                return T.BOOL
            numeric = lt in T.NUMERIC and rt in T.NUMERIC
            if op in ("==", "!="):
                if not (numeric or lt == rt):
                    self._err("DSC041", f"cannot compare {T.describe(lt)} with {T.describe(rt)}", e.span)
            elif not (numeric or (lt == rt == T.STRING)):
                self._err("DSC041", f"'{op}' cannot order {T.describe(lt)} and {T.describe(rt)}", e.span,
                          help="only numbers (or two strings) can be ordered")
            return T.BOOL
        # arithmetic
        if T.ANY in (lt, rt):
            return T.ANY
        if lt in T.NUMERIC and rt in T.NUMERIC:
            return T.FLOAT if (op == "/" or T.FLOAT in (lt, rt)) else T.INT
        if op == "+" and lt == rt and lt.name in ("string", "list"):
            return lt
        self._err("DSC041", f"'{op}' cannot combine {T.describe(lt)} and {T.describe(rt)}", e.span)
        return T.ANY

    def _ForAll(self, e, env):
        it = self.infer(e.iterable, env)
        if it.name != "list" and it != T.ANY:
            self._err("DSC043", f"'for' needs a list to range over, got {T.describe(it)}", e.iterable.span,
                      help="write the elements in brackets: for x in [a, b]: ...")
            item = T.ANY
        else:
            item = it.item or T.ANY if it.name == "list" else T.ANY
        body = self.infer(e.body, {**env, e.var.name: item})
        if not T.assignable(body, T.BOOL):
            self._err("DSC040", f"the body of 'for' must be a condition, got {T.describe(body)}", e.body.span)
        return T.BOOL


def _coerce_hint(got: T.Type, want: T.Type) -> str | None:
    if want.name == "list" and T.assignable(got, want.item or T.ANY):
        return "put it in a list: [ ... ]"
    return None
