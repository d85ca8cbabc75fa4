"""The symbol table of a program: what each name denotes, and which data each contract reads.

Built once per check and shared by the checker rules, the flow analysis, the language server
and the escrow (whose `contracts.model.Scenario` is a view over it), so that name resolution,
what a contract reads and who must approve it exist in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from . import ir
from .diagnostics import Span
from .binding import bind
from .module_code import Import, Statement, imports_of, outside_code
from .signatures import FunctionSig, ModuleError, functions_in, parse_module, read_module_text, stdlib_functions
from .walk import EMPTY_SCOPE, Scope, walk_list

RESULT = "result"


class DataRef(NamedTuple):
    """A data element named in an expression: `owner.name` (original) or a kept result's name.

    A named tuple: the symbol table makes one per data reference of every contract, and a
    tuple is several times cheaper to build than a frozen dataclass."""

    key: str
    span: Span
    kept: bool = False


@dataclass(slots=True)
class ModuleInfo:
    use: ir.Use
    path: Path
    functions: dict[str, FunctionSig] = field(default_factory=dict)
    error: ModuleError | None = None
    outside: tuple[Statement, ...] = ()  # top-level code outside every function's identity
    imports: tuple[Import, ...] = ()  # every import of the module, at any depth


class Symbols:
    """Names declared by a program, its functions, and data-flow queries over its contracts."""

    def __init__(self, program: ir.Program, base_dir: Path | None = None, module_texts: dict[str, str] | None = None):
        """`module_texts` (use path -> module text) replaces reading the `use` modules from disk."""
        self.program = program
        self.base_dir = base_dir or Path(".")
        self._module_texts = module_texts
        self.agents: dict[str, ir.Agent] = {}
        self.data: dict[str, ir.Data] = {}
        self.contracts: dict[str, ir.Contract] = {}
        self.kept: dict[str, ir.Contract] = {}
        self.policies: dict[str, list[ir.Rule]] = {}
        self.builtins: dict[str, FunctionSig] = stdlib_functions()
        self.modules: list[ModuleInfo] = []
        self.user_functions: dict[str, FunctionSig] = {}
        for decl in program.decls:
            if isinstance(decl, ir.Agent):
                self.agents.setdefault(decl.name.name, decl)
            elif isinstance(decl, ir.Data):
                self.data.setdefault(decl.qualified, decl)
            elif isinstance(decl, ir.Contract):
                self.contracts.setdefault(decl.name.name, decl)
                if decl.keep_as is not None:
                    self.kept.setdefault(decl.keep_as.name, decl)
            elif isinstance(decl, ir.Policy):
                self.policies.setdefault(decl.owner.name, []).extend(decl.rules)
            elif isinstance(decl, ir.Use):
                self._load_module(decl)
        self.functions: dict[str, FunctionSig] = {**self.builtins, **self.user_functions}
        self._sources: dict[str, frozenset[str]] = {}
        # Memoised per contract (keyed by id, holding the contract so the id stays valid).
        self._inputs: dict[int, tuple[ir.Contract, list[str]]] = {}
        self._conditions: dict[int, tuple[ir.Contract, list[str]]] = {}
        self._walks: dict[int, tuple[ir.Expr, list]] = {}
        self._bindings: dict[int, tuple[ir.Call, object]] = {}
        self._refs: dict[int, tuple] = {}  # id -> (expr, refs, may have unknown names, calls, names result)
        self._source_data: dict[int, tuple[ir.Contract, frozenset[str]]] = {}

    def walk(self, expr: ir.Expr) -> list[tuple[ir.Expr, Scope]]:
        """`walk.walk_list(expr)` with each quantifier variable bound to the agents it ranges
        over (`agent_values`), computed once per expression and shared by the rules."""
        found = self._walks.get(id(expr))
        if found is None or found[0] is not expr:
            found = self._walks[id(expr)] = (expr, walk_list(expr, EMPTY_SCOPE, self._bind_agents))
        return found[1]

    def _bind_agents(self, forall: ir.ForAll, scope: Scope) -> list[str]:
        return self.agent_values(forall.iterable, scope)

    def binding(self, call: ir.Call):
        """How a call's arguments bind to its function's parameters (None for unknown functions)."""
        found = self._bindings.get(id(call))
        if found is None or found[0] is not call:
            sig = self.functions.get(call.func.name)
            found = self._bindings[id(call)] = (call, bind(sig, call) if sig is not None else None)
        return found[1]

    # ------------------------------------------------------------ modules
    def _load_module(self, use: ir.Use) -> None:
        path = (self.base_dir / use.path.value).resolve()
        info = ModuleInfo(use=use, path=path)
        try:
            if self._module_texts is None:
                text = read_module_text(path)
            elif use.path.value in self._module_texts:
                text = self._module_texts[use.path.value]
            else:
                raise ModuleError("file not found")
            tree = parse_module(text, path)
            info.functions = functions_in(tree, text, path)
            info.outside = outside_code(tree)
            info.imports = imports_of(tree)
        except ModuleError as exc:
            info.error = exc
        self.modules.append(info)
        for name, sig in info.functions.items():
            self.user_functions.setdefault(name, sig)

    @property
    def module_paths(self) -> list[Path]:
        return [m.path for m in self.modules]

    @property
    def reads_disk(self) -> bool:
        """Whether the `use` modules were read from disk (not from texts held in memory)."""
        return self._module_texts is None

    # ------------------------------------------------------------ names
    def kind_of(self, name: str) -> str | None:
        """What a bare name denotes: "agent", "kept result", "contract", "function" or None."""
        if name in self.agents:
            return "agent"
        if name in self.kept:
            return "kept result"
        if name in self.contracts:
            return "contract"
        if name in self.functions:
            return "function"
        return None

    def owners(self, keys) -> set[str]:
        return {self.data[k].owner.name for k in keys if k in self.data}

    # ------------------------------------------------------------ data flow
    def refs(self, expr: ir.Expr) -> list[DataRef]:
        """Every data element `expr` names, in source order (a quantifier variable's `b.test`
        names the data of every agent it ranges over). Computed once per expression and shared:
        do not modify the list."""
        return self._refs_entry(expr)[1]

    def may_have_unknown_names(self, expr: ir.Expr) -> bool:
        """False when every name, data element and function in `expr` is known (found on the
        same walk as `refs`), so that the undefined-name rule can skip the expression."""
        return self._refs_entry(expr)[2]

    def calls(self, expr: ir.Expr) -> list[ir.Call]:
        """Every call in `expr` (found on the same walk as `refs`; do not modify the list)."""
        return self._refs_entry(expr)[3]

    def mentions_result(self, expr: ir.Expr) -> bool:
        """Whether `expr` names `result` outside a quantifier that binds it."""
        return self._refs_entry(expr)[4]

    def _refs_entry(self, expr: ir.Expr) -> tuple:
        found = self._refs.get(id(expr))
        if found is None or found[0] is not expr:
            found = self._refs[id(expr)] = (expr, *self._find_refs(expr))
        return found

    def _find_refs(self, expr: ir.Expr) -> tuple[list[DataRef], bool, list, bool]:
        """From one walk: the data references, whether some name may be undefined (a superset
        of what `undefined_names` reports), the calls, and whether `result` is named."""
        out: list[DataRef] = []
        calls: list[ir.Call] = []
        add_ref, add_call = out.append, calls.append
        suspect = result = False
        agents, data, kept, functions = self.agents, self.data, self.kept, self.functions
        Attribute, Name, Call = ir.Attribute, ir.Name, ir.Call
        base_name = None  # the `Name` under the `Attribute` just seen: part of a data reference
        # A walk of its own, not the memoised `walk`: a list kept for every expression of a
        # large file costs more to allocate than walking again in the rare rule that needs it.
        for node, scope in walk_list(expr, EMPTY_SCOPE, self._bind_agents):
            cls = type(node)
            if cls is Name:
                if node is base_name:
                    base_name = None
                    continue
                name = node.id
                if name in scope:
                    pass
                elif name in kept:
                    add_ref(DataRef(name, node.span, True))
                elif name == RESULT:
                    result = True
                elif name not in agents:
                    suspect = True
            elif cls is Attribute:
                base_name = node.value
                if type(base_name) is not Name:
                    base_name = None
                    continue
                base = base_name.id
                if base in scope:
                    owners = scope[base]
                elif base in agents:
                    owners = (base,)
                else:
                    owners = ()
                    suspect = True
                    result = result or base == RESULT
                for owner in owners:
                    key = f"{owner}.{node.attr.name}"
                    if key in data:
                        add_ref(DataRef(key, node.span))
                    else:
                        suspect = True
            elif cls is Call:
                add_call(node)
                if node.func.name not in functions:
                    suspect = True
        return out, suspect, calls, result

    def agent_values(self, iterable: ir.Expr, scope: Scope = EMPTY_SCOPE) -> list[str]:
        """The agents a quantifier ranges over, when its list names agents (`scope` maps the
        variables of enclosing quantifiers to their agents)."""
        if not isinstance(iterable, ir.ListExpr):
            return []
        out: list[str] = []
        for item in iterable.items:
            if isinstance(item, ir.Name):
                if item.id in scope:
                    out.extend(scope[item.id])
                elif item.id in self.agents:
                    out.append(item.id)
        return out

    def contract_inputs(self, contract: ir.Contract) -> list[str]:
        """Data keys ("owner.name") and kept names the computation reads, in order, without repeats."""
        found = self._inputs.get(id(contract))
        if found is None or found[0] is not contract:
            keys = [] if contract.call is None else list(dict.fromkeys(r.key for r in self.refs(contract.call)))
            found = self._inputs[id(contract)] = (contract, keys)
        return list(found[1])

    def condition_inputs(self, contract: ir.Contract) -> list[str]:
        """Data keys and kept names the require/ensure conditions read."""
        found = self._conditions.get(id(contract))
        if found is None or found[0] is not contract:
            keys: dict[str, None] = {}
            for cond in (*contract.requires, *contract.ensures):
                for ref in self.refs(cond):
                    keys[ref.key] = None
            found = self._conditions[id(contract)] = (contract, list(keys))
        return list(found[1])

    def source_data(self, contract: ir.Contract) -> frozenset[str]:
        """The original data elements behind a contract's inputs, expanding kept results (provenance)."""
        found = self._source_data.get(id(contract))
        if found is None or found[0] is not contract:
            keys = (*self.contract_inputs(contract), *self.condition_inputs(contract))
            if all(k in self.data for k in keys):
                out = frozenset(keys)
            else:
                acc: set[str] = set()
                for key in keys:
                    acc |= self.origins(key)
                out = frozenset(acc)
            found = self._source_data[id(contract)] = (contract, out)
        return found[1]

    def origins(self, key: str) -> frozenset[str]:
        """The original data elements a data key or kept name comes from.

        Memoized for every kept result and computed without recursion, so a chain of thousands of
        kept results costs linear time. A cycle of kept results (an error, DSC063) contributes
        nothing more once it closes.
        """
        if key in self.data:
            return frozenset({key})
        if key in self._sources:
            return self._sources[key]
        if key not in self.kept:
            return frozenset()
        stack: list[tuple[str, bool]] = [(key, False)]
        open_: set[str] = set()
        while stack:
            k, done = stack.pop()
            producer = self.kept[k]
            deps = (*self.contract_inputs(producer), *self.condition_inputs(producer))
            if done:
                out: set[str] = set()
                for dep in deps:
                    if dep in self.data:
                        out.add(dep)
                    else:
                        out |= self._sources.get(dep, frozenset())
                self._sources[k] = frozenset(out)
                open_.discard(k)
                continue
            if k in self._sources or k in open_:
                continue
            open_.add(k)
            stack.append((k, True))
            stack.extend((d, False) for d in deps if d in self.kept and d not in self._sources and d not in open_)
        return self._sources[key]

    def source_agents(self, contract: ir.Contract) -> set[str]:
        """The owners of the contract's original inputs: every one of them must approve."""
        return self.owners(self.source_data(contract))
