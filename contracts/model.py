"""What a contract means, read from the IR alone: its inputs, source data, source agents.

`Scenario` indexes one parsed .dsc program (agents, data, contracts, kept results, policies,
functions). It is deliberately small and never reports errors: that is the checker's job.
When the checker's `Symbols` is available, pass it to share its function table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from datastation.dsl import ir

from .functions import FunctionTable


def walk(expr, env: dict | None = None) -> Iterator[tuple[ir.Expr, dict]]:
    """Every sub-expression with the quantifier bindings in force (var -> bound expression).

    A quantifier over a list literal is expanded: its body is visited once per element.
    """
    env = env or {}
    yield expr, env
    match expr:
        case ir.Attribute(value=v):
            yield from walk(v, env)
        case ir.ListExpr(items=items):
            for item in items:
                yield from walk(item, env)
        case ir.Call(args=args, kwargs=kwargs):
            for a in args:
                yield from walk(a, env)
            for k in kwargs:
                yield from walk(k.value, env)
        case ir.UnaryOp(operand=o):
            yield from walk(o, env)
        case ir.BinOp(left=l, right=r):
            yield from walk(l, env)
            yield from walk(r, env)
        case ir.ForAll(var=var, iterable=it, body=body):
            yield from walk(it, env)
            if isinstance(it, ir.ListExpr):
                for item in it.items:
                    yield from walk(body, {**env, var.name: _bound(item, env)})
            else:
                yield from walk(body, {**env, var.name: None})


def _bound(expr, env):
    if isinstance(expr, ir.Name) and expr.id in env:
        return env[expr.id]
    return expr


def calls_in(expr) -> list[str]:
    """Names of the functions called anywhere in `expr` (in order, no repeats)."""
    out: dict[str, None] = {}
    for node, _ in walk(expr):
        if isinstance(node, ir.Call):
            out[node.func.name] = None
    return list(out)


@dataclass
class Scenario:
    program: ir.Program
    base_dir: Path
    symbols: object | None = None
    agents: dict[str, ir.Agent] = field(default_factory=dict)
    data: dict[str, ir.Data] = field(default_factory=dict)
    contracts: dict[str, ir.Contract] = field(default_factory=dict)
    kept: dict[str, ir.Contract] = field(default_factory=dict)
    policies: dict[str, list[ir.Policy]] = field(default_factory=dict)
    functions: FunctionTable = None  # type: ignore[assignment]

    @classmethod
    def build(cls, program: ir.Program, base_dir: Path | str | None = None, symbols=None,
              module_texts: dict[str, str] | None = None) -> "Scenario":
        """Index `program`. `module_texts` (use path -> text) replaces reading modules from disk."""
        base = Path(base_dir) if base_dir is not None else Path(program.file).resolve().parent
        s = cls(program=program, base_dir=base, symbols=symbols)
        for a in program.agents:
            s.agents.setdefault(a.name.name, a)
        for d in program.data:
            s.data.setdefault(d.qualified, d)
        for c in program.contracts:
            s.contracts.setdefault(c.name.name, c)
            if c.keep_as is not None:
                s.kept.setdefault(c.keep_as.name, c)
        for p in program.policies:
            s.policies.setdefault(p.owner.name, []).append(p)
        paths = [(base / u.path.value) for u in program.uses]
        texts = None
        if module_texts is not None:
            texts = {str(base / rel): text for rel, text in module_texts.items()}
        s.functions = FunctionTable(paths, symbols if module_texts is None else None, texts)
        return s

    @property
    def module_paths(self) -> list[Path]:
        return self.functions.module_paths

    # ------------------------------------------------------------ references
    def data_ref(self, expr, env: dict) -> str | None:
        """The DE key ("owner.name") or kept name `expr` denotes, if it denotes one."""
        if isinstance(expr, ir.Attribute) and isinstance(expr.value, ir.Name):
            owner = expr.value.id
            if owner in env:  # a quantifier variable: use what it is bound to
                bound = env[owner]
                if not isinstance(bound, ir.Name):
                    return None
                owner = bound.id
            if owner in self.agents:
                return f"{owner}.{expr.attr.name}"
        elif isinstance(expr, ir.Name) and expr.id not in env and expr.id in self.kept:
            return expr.id
        return None

    def refs(self, expr) -> list[str]:
        out: dict[str, None] = {}
        for node, env in walk(expr):
            key = self.data_ref(node, env)
            if key is not None:
                out[key] = None
        return list(out)

    def call_inputs(self, contract: ir.Contract) -> list[str]:
        """DE keys and kept names the computation itself reads."""
        return self.refs(contract.call) if contract.call is not None else []

    def condition_inputs(self, contract: ir.Contract) -> list[str]:
        out: dict[str, None] = {}
        for e in (*contract.requires, *contract.ensures):
            for k in self.refs(e):
                out[k] = None
        return list(out)

    def inputs(self, contract: ir.Contract) -> list[str]:
        """Everything the contract may read: computation and conditions."""
        out = dict.fromkeys(self.call_inputs(contract))
        out.update(dict.fromkeys(self.condition_inputs(contract)))
        return list(out)

    def expand(self, key: str, _seen: frozenset = frozenset()) -> set[str]:
        """Original DE keys behind `key` (a kept name is expanded through its contract)."""
        if "." in key or key not in self.kept or key in _seen:
            return {key} if "." in key else set()
        out: set[str] = set()
        for k in self.inputs(self.kept[key]):  # conditions read data too: same as the checker
            out |= self.expand(k, _seen | {key})
        return out

    def source_data(self, contract: ir.Contract) -> set[str]:
        out: set[str] = set()
        for k in self.inputs(contract):
            out |= self.expand(k)
        return out

    def source_agents(self, contract: ir.Contract) -> list[str]:
        return sorted({k.split(".", 1)[0] for k in self.source_data(contract)})

    def called_functions(self, contract: ir.Contract) -> list[str]:
        out: dict[str, None] = {}
        for e in ([contract.call] if contract.call else []) + list(contract.requires) + list(contract.ensures):
            for name in calls_in(e):
                out[name] = None
        return list(out)


def load_scenario(path: str | Path, symbols=None) -> tuple[Scenario | None, tuple]:
    """Parse a .dsc file into a Scenario; returns (None, diagnostics) when it does not parse."""
    from datastation.dsl.parser import parse_file

    result = parse_file(path)
    errors = tuple(d for d in result.diagnostics if d.is_error)
    if errors:
        return None, result.diagnostics
    return Scenario.build(result.program, Path(path).resolve().parent, symbols), result.diagnostics
