"""What a contract means, read from the IR alone: its inputs, source data, source agents.

`Scenario` is the escrow's view of one parsed .dsc program. It holds no analysis of its own:
what a contract reads, where its data comes from and who must approve it are answered by the
checker's symbol table (`datastation.dsl.symbols.Symbols`), so that `dsc check` and the escrow
can never disagree. It never reports errors: that is the checker's job. When the checker's
`Symbols` is at hand, pass it; otherwise `build` makes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from datastation.dsl import ir
from datastation.dsl.symbols import Symbols
from datastation.dsl.walk import EMPTY_SCOPE, walk_list

from .functions import FunctionTable


def walk(expr, env: dict | None = None) -> Iterator[tuple[ir.Expr, dict]]:
    """Every sub-expression with the quantifier bindings in force (var -> bound expression).

    A quantifier over a list literal is expanded: its body is visited once per element, with
    the variable bound to that element (None when the quantifier does not range over a list).
    """
    return iter(walk_list(expr, env or EMPTY_SCOPE, _elements, expand=True))


def _elements(forall: ir.ForAll, env) -> list:
    if isinstance(forall.iterable, ir.ListExpr):
        return [_bound(item, env) for item in forall.iterable.items]
    return [None]


def _bound(expr, env):
    if isinstance(expr, ir.Name) and expr.id in env:
        return env[expr.id]
    return expr


def calls_in(expr) -> list[str]:
    """Names of the functions called anywhere in `expr` (in order, no repeats)."""
    return list(dict.fromkeys(node.func.name for node, _ in walk_list(expr) if type(node) is ir.Call))


@dataclass
class Scenario:
    program: ir.Program
    base_dir: Path
    symbols: Symbols | None = None
    agents: dict[str, ir.Agent] = field(default_factory=dict)
    data: dict[str, ir.Data] = field(default_factory=dict)
    contracts: dict[str, ir.Contract] = field(default_factory=dict)
    kept: dict[str, ir.Contract] = field(default_factory=dict)
    policies: dict[str, list[ir.Policy]] = field(default_factory=dict)
    functions: FunctionTable = None  # type: ignore[assignment]

    @classmethod
    def build(cls, program: ir.Program, base_dir: Path | str | None = None, symbols: Symbols | None = None,
              module_texts: dict[str, str] | None = None) -> "Scenario":
        """Index `program`. `module_texts` (use path -> text) replaces reading modules from disk."""
        base = Path(base_dir) if base_dir is not None else Path(program.file).resolve().parent
        given = symbols
        if symbols is None:
            symbols = Symbols(program, base, module_texts=module_texts)
        s = cls(program=program, base_dir=base, symbols=symbols, agents=symbols.agents, data=symbols.data,
                contracts=symbols.contracts, kept=symbols.kept)
        for p in program.policies:
            s.policies.setdefault(p.owner.name, []).append(p)
        paths = [(base / u.path.value) for u in program.uses]
        texts = None
        if module_texts is not None:
            texts = {str(base / rel): text for rel, text in module_texts.items()}
        s.functions = FunctionTable(paths, given if module_texts is None else None, texts)
        return s

    @property
    def module_paths(self) -> list[Path]:
        return self.functions.module_paths

    @property
    def _symbols(self) -> Symbols:
        if self.symbols is None:  # a Scenario made by hand, not by `build`
            self.symbols = Symbols(self.program, self.base_dir)
        return self.symbols

    # ------------------------------------------------------------ references
    def data_ref(self, expr, env: dict) -> str | None:
        """The DE key ("owner.name") or kept name `expr` itself denotes, if it denotes one
        (`env`: quantifier variables bound to expressions, as `walk` binds them)."""
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

    def call_inputs(self, contract: ir.Contract) -> list[str]:
        """DE keys and kept names the computation itself reads."""
        return self._symbols.contract_inputs(contract)

    def condition_inputs(self, contract: ir.Contract) -> list[str]:
        """DE keys and kept names the require/ensure conditions read."""
        return self._symbols.condition_inputs(contract)

    def inputs(self, contract: ir.Contract) -> list[str]:
        """Everything the contract may read: computation and conditions."""
        return list(dict.fromkeys([*self.call_inputs(contract), *self.condition_inputs(contract)]))

    def expand(self, key: str) -> set[str]:
        """Original DE keys behind `key` (a kept name is expanded through its contract)."""
        return set(self._symbols.origins(key))

    def source_data(self, contract: ir.Contract) -> set[str]:
        return set(self._symbols.source_data(contract))

    def source_agents(self, contract: ir.Contract) -> list[str]:
        return sorted(self._symbols.source_agents(contract))

    def called_functions(self, contract: ir.Contract) -> list[str]:
        out: dict[str, None] = {}
        for e in ([contract.call] if contract.call else []) + list(contract.requires) + list(contract.ensures):
            for call in self._symbols.calls(e):
                out[call.func.name] = None
        return list(out)


def load_scenario(path: str | Path, symbols=None) -> tuple[Scenario | None, tuple]:
    """Parse a .dsc file into a Scenario; returns (None, diagnostics) when it does not parse."""
    from datastation.dsl.parser import parse_file

    result = parse_file(path)
    errors = tuple(d for d in result.diagnostics if d.is_error)
    if errors:
        return None, result.diagnostics
    return Scenario.build(result.program, Path(path).resolve().parent, symbols), result.diagnostics
