"""Locate the functions a contract calls and hash their source, without importing them.

User functions come from the `use` modules (paths relative to the .dsc file), stdlib
functions from the `datastation.stdlib` package source. A function's hash covers its
*closure*: the module's imports, the top-level definitions of its module it refers to
(transitively) and its own source segment: editing a helper the function calls changes the
hash too. The closure is also exactly what the escrow executes for a user function (the
executors receive it as the module text and refuse any other text: `verify_closure`), so
nothing outside the identity runs.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePath

from datastation.dsl.signatures import stdlib_dir
from datastation.dsl.signatures import stdlib_functions as builtin_signatures

_TOP = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


@dataclass(frozen=True, slots=True)
class FunctionSource:
    name: str
    origin: str  # "user" | "stdlib"
    path: Path
    line: int
    source: str  # the `def` segment itself, decorators included
    closure: str  # what is hashed: imports, referenced top-level definitions, the def
    sha256: str
    # For each line of `closure`, the line of the module it comes from (0: a header comment):
    # a failure inside the closure is reported at the line the user wrote.
    line_map: tuple[int, ...] = ()

    @property
    def module(self) -> str:
        return self.path.name if self.origin == "user" else _stdlib_module_name(self.path)


@dataclass(frozen=True, slots=True)
class _Module:
    path: Path
    text: str
    defs: dict  # name -> ast node (top level)
    imports: tuple  # ast import nodes, in order

    def segment(self, node) -> str:
        seg = ast.get_source_segment(self.text, node) or ""
        decos = getattr(node, "decorator_list", ())
        if decos:  # get_source_segment starts at `def`, keep the decorators with it
            lines = self.text.splitlines(keepends=True)
            first = min(d.lineno for d in decos)
            seg = "".join(lines[first - 1 : node.lineno - 1]) + seg
        return seg


def _names_of(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _targets(node) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


@functools.lru_cache(maxsize=128)
def parse_module(text: str, path: str | Path) -> _Module | None:
    """Index a module's top-level definitions from its text (None if it does not parse)."""
    try:
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError):
        return None
    defs: dict = {}
    imports = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        elif isinstance(node, _TOP):
            for name in _targets(node):
                defs[name] = node
    return _Module(Path(path), text, defs, tuple(imports))


@functools.lru_cache(maxsize=256)
def _load(path: str, mtime_ns: int, size: int) -> _Module | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return parse_module(text, path)


def load_module(path: str | Path) -> _Module | None:
    """The parsed module at `path` (cached while the file is unchanged), or None."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    return _load(str(p.resolve()), st.st_mtime_ns, st.st_size)


def _closure_text(mod: _Module, name: str) -> str:
    return _closure(mod, name)[0]


def _first_line(node) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])


def _closure(mod: _Module, name: str) -> tuple[str, tuple[int, ...]]:
    """The closure text of `name` and, for each of its lines, the module line it comes from."""
    node = mod.defs[name]
    seen = {id(node)}
    order = []
    stack = [node]
    while stack:  # top-level definitions referenced from the function, transitively
        current = stack.pop()
        for ref in sorted(_names_of(current)):
            dep = mod.defs.get(ref)
            if dep is not None and id(dep) not in seen:
                seen.add(id(dep))
                order.append(dep)
                stack.append(dep)
    deps = sorted(order, key=lambda n: n.lineno)
    parts: list[str] = []
    line_map: list[int] = []
    for header, nodes in (("# imports", mod.imports), ("# helpers", deps), ("# function", [node])):
        parts.append(header)
        line_map.append(0)
        for n in nodes:
            seg = mod.segment(n)
            parts.append(seg)
            first = _first_line(n)
            line_map.extend(range(first, first + seg.count("\n") + 1))
    return "\n".join(parts), tuple(line_map)


def function_source(path: str | Path, name: str, origin: str) -> FunctionSource | None:
    """The function `name` defined at the top level of the module at `path`, hashed."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    return _function_in_file(str(p.resolve()), st.st_mtime_ns, st.st_size, name, origin)


@functools.lru_cache(maxsize=1024)
def _function_in_file(path: str, mtime_ns: int, size: int, name: str, origin: str) -> FunctionSource | None:
    mod = _load(path, mtime_ns, size)
    return _function_in(mod, name, origin) if mod is not None else None


@functools.lru_cache(maxsize=1024)
def function_source_in_text(text: str, path: str | Path, name: str, origin: str = "user") -> FunctionSource | None:
    """Same as `function_source`, for module text held in memory (an approved snapshot)."""
    mod = parse_module(text, path)
    return _function_in(mod, name, origin) if mod is not None else None


def verify_closure(text: str | None, module_name: str, name: str, sha256: str) -> str | None:
    """Why `text` may not run as the user function `name` of identity `sha256` (None: it may).

    It may only if it *is* that function's closure, byte for byte: re-deriving the closure
    from it gives the same text and the same hash. A text that holds anything more (a
    statement outside the closure) is refused, even when its closure hashes the same."""
    if text is None:
        return f"no approved source for '{name}'"
    found = function_source_in_text(text, module_name, name)
    if found is None or found.sha256 != sha256 or found.closure != text:
        return f"function '{name}' does not match the approved source"
    return None


def _function_in(mod: _Module, name: str, origin: str) -> FunctionSource | None:
    node = mod.defs.get(name)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    closure, line_map = _closure(mod, name)
    return FunctionSource(
        name=name,
        origin=origin,
        path=mod.path,
        line=node.lineno,
        source=mod.segment(node),
        closure=closure,
        sha256=hashlib.sha256(closure.encode("utf-8")).hexdigest(),
        line_map=line_map,
    )


def _stdlib_module_name(path: Path) -> str:
    return _module_name_under(str(path), str(stdlib_dir()))


@functools.lru_cache(maxsize=1024)
def _module_name_under(path: str, root: str) -> str:
    """The dotted name of built-in module `path` under the stdlib folder `root` (memoized: asked
    for every built-in of every proposal, while where the built-ins live does not change)."""
    rel = _under_stdlib(path, root)
    if rel is None:
        return Path(path).stem
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["datastation.stdlib", *parts])


@functools.cache
def stdlib_functions() -> dict[str, Path]:
    """The built-ins, name -> defining file: a view of the one registry of built-ins,
    `datastation.dsl.signatures.stdlib_functions` (what the checker reads, with `ast`)."""
    return {name: sig.path for name, sig in builtin_signatures().items() if sig.path is not None}


class FunctionTable:
    """Resolves function names for one .dsc file: its `use` modules first, then the stdlib."""

    def __init__(self, module_paths: list[Path], symbols=None, texts: dict | None = None):
        self.module_paths = [Path(p) for p in module_paths]
        self._symbols = symbols
        self._texts = texts  # path -> module text held in memory (an approved bundle)
        self._cache: dict[str, FunctionSource | None] = {}

    def resolve(self, name: str) -> FunctionSource | None:
        if name not in self._cache:
            self._cache[name] = self._find(name)
        return self._cache[name]

    def _find(self, name: str) -> FunctionSource | None:
        sig = getattr(self._symbols, "functions", {}).get(name) if self._symbols is not None else None
        if sig is not None and getattr(sig, "path", None):
            origin = "stdlib" if _is_stdlib(Path(sig.path)) else "user"
            found = function_source(sig.path, name, origin)
            if found is not None:
                return found
        for path in self.module_paths:
            if self._texts is not None:
                text = self._texts.get(str(path))
                found = function_source_in_text(text, path, name, "user") if text is not None else None
            else:
                found = function_source(path, name, "user")
            if found is not None:
                return found
        path = stdlib_functions().get(name)
        return function_source(path, name, "stdlib") if path else None


def _is_stdlib(path: Path) -> bool:
    return _under_stdlib(str(path), str(stdlib_dir())) is not None


@functools.lru_cache(maxsize=1024)
def _under_stdlib(path: str, root: str) -> PurePath | None:
    """`path` relative to the stdlib folder `root` (both resolved), None when outside it. Memoized:
    asked for every function of every identity, while where the built-ins live does not change."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None
