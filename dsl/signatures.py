"""Function signatures read from Python modules with `ast` (the checker never imports user code)."""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import types as T


@dataclass(frozen=True, kw_only=True, slots=True)
class Param:
    name: str
    kind: str  # "positional_only" | "positional" | "keyword_only" | "var_positional" | "var_keyword"
    type: T.Type = T.ANY
    has_default: bool = False
    annotation: str | None = None
    # A `Column` parameter (or `list[Column]`): the parameters whose tables hold the columns it
    # names, () for every table parameter of the call; None for any other parameter.
    columns_of: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class FunctionSig:
    """What the checker knows of a function: parameters, return type, docs and where it lives."""

    name: str
    params: tuple[Param, ...]
    returns: T.Type = T.ANY
    doc: str | None = None
    path: Path | None = None
    line: int = 1
    column: int = 1
    source: str = field(default="", repr=False)
    builtin: bool = False
    # The columns of the result table, when the arguments tell them (the module's
    # `RESULT_COLUMNS`): "*p" the names listed in argument p, "{p}" the string argument p.
    result_columns: tuple[str, ...] | None = None

    @property
    def source_hash(self) -> str:
        """sha256 of the function's source text: part of every contract identity that calls it."""
        import hashlib  # not at start-up: only identities need it

        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()

    def signature_text(self) -> str:
        parts = []
        seen_star = False
        for i, p in enumerate(self.params):
            if i and self.params[i - 1].kind == "positional_only" and p.kind != "positional_only":
                parts.append("/")
            if p.kind == "var_positional":
                parts.append(f"*{p.name}")
                seen_star = True
                continue
            if p.kind == "var_keyword":
                parts.append(f"**{p.name}")
                continue
            if p.kind == "keyword_only" and not seen_star:
                parts.append("*")
                seen_star = True
            text = p.name + (f": {p.annotation}" if p.annotation else "")
            parts.append(text + (" = ..." if p.has_default else ""))
        if self.params and self.params[-1].kind == "positional_only":
            parts.append("/")
        ret = "" if self.returns == T.ANY else f" -> {self.returns}"
        return f"{self.name}({', '.join(parts)}){ret}"


class ModuleError(Exception):
    """A module that cannot be read: missing file or Python syntax error."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def _params(args: ast.arguments) -> tuple[Param, ...]:
    out: list[Param] = []
    positional = list(args.posonlyargs) + list(args.args)
    n_defaults = len(args.defaults)
    first_default = len(positional) - n_defaults
    for i, a in enumerate(positional):
        kind = "positional_only" if i < len(args.posonlyargs) else "positional"
        out.append(_param(a, kind, i >= first_default))
    if args.vararg:
        out.append(_param(args.vararg, "var_positional", True))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        out.append(_param(a, "keyword_only", d is not None))
    if args.kwarg:
        out.append(_param(args.kwarg, "var_keyword", True))
    return tuple(out)


def _param(a: ast.arg, kind: str, has_default: bool) -> Param:
    return Param(
        name=a.arg,
        kind=kind,
        type=T.from_annotation(a.annotation),
        has_default=has_default,
        annotation=ast.unparse(a.annotation) if a.annotation is not None else None,
        columns_of=column_target(a.annotation),
    )


def column_target(node: ast.expr | None) -> tuple[str, ...] | None:
    """For a `Column` annotation (`Column`, `Column["a", "b"]`, `list[Column]`, `Column | None`,
    or the same as a string), the parameters whose tables hold the named columns (() for every
    table parameter); None for any other annotation."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except (SyntaxError, ValueError):  # ValueError: a NUL character
            return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # Column | None
        left, right = column_target(node.left), column_target(node.right)
        return left if left is not None else right
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
    if name == "Column":
        return ()
    if not isinstance(node, ast.Subscript):
        return None
    base = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", None)
    if base in ("list", "List", "Sequence", "Iterable", "tuple", "Optional"):
        inner = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) and node.slice.elts else node.slice
        return column_target(inner)
    if base != "Column":
        return None
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    names = tuple(i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str))
    return names if len(names) == len(items) else None


def _result_columns(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    """The module's `RESULT_COLUMNS` literal (function name -> column templates), if any."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "RESULT_COLUMNS" and node.value is not None:
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return {}
            if isinstance(value, dict):
                return {k: tuple(v) for k, v in value.items()
                        if isinstance(k, str) and isinstance(v, (tuple, list)) and all(isinstance(c, str) for c in v)}
    return {}


def parse_module(source: str, path: Path | None = None) -> ast.Module:
    """A module's syntax tree. Raises ModuleError when it is not valid Python."""
    try:
        return ast.parse(source, filename=str(path or "<module>"))
    except SyntaxError as exc:
        raise ModuleError(f"Python syntax error: {exc.msg}", exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ModuleError(f"cannot read the module: {exc}") from None


def functions_in(tree: ast.Module, source: str, path: Path | None = None,
                 builtin: bool = False) -> dict[str, FunctionSig]:
    """Every public top-level function of a parsed module."""
    out: dict[str, FunctionSig] = {}
    segment = _segments(source)
    result_columns = _result_columns(tree)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            out[node.name] = FunctionSig(
                name=node.name,
                params=_params(node.args),
                returns=T.from_annotation(node.returns),
                doc=ast.get_docstring(node),
                path=path,
                line=node.lineno,
                column=node.col_offset + 1,
                source=segment(node),
                builtin=builtin,
                result_columns=result_columns.get(node.name),
            )
    return out


def read_functions(source: str, path: Path | None = None, builtin: bool = False) -> dict[str, FunctionSig]:
    """Every public top-level function of a module's source. Raises ModuleError on a syntax error."""
    return functions_in(parse_module(source, path), source, path, builtin)


# Lines as Python's parser (and `ast.get_source_segment`) splits them: at \r\n, \r or \n only.
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _segments(source: str):
    """`segment(node)`: `ast.get_source_segment(source, node)` (or "" without a location), with
    the source split into lines once per module rather than once per function."""
    lines: list[str] | None = None

    def segment(node: ast.AST) -> str:
        nonlocal lines
        if getattr(node, "end_lineno", None) is None or getattr(node, "end_col_offset", None) is None:
            return ""
        if lines is None:
            lines = _LINES.findall(source)
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
        head = lines[first].encode()[node.col_offset:].decode()
        tail = lines[last].encode()[:node.end_col_offset].decode()
        return "".join([head, *lines[first + 1:last], tail])

    return segment


def read_module_text(path: Path) -> str:
    """A user module's text. Raises ModuleError when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModuleError("file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModuleError(f"cannot read the file: {exc}") from None


def read_module(path: Path) -> dict[str, FunctionSig]:
    """Read a user module. Raises ModuleError when it is missing or not valid Python."""
    return read_functions(read_module_text(path), path)


@functools.cache
def stdlib_dir() -> Path:
    """The folder of the installed stdlib package, found without importing it (once per process:
    `stdlib_functions` reads the built-ins from there once too; finding it walks the import path,
    15 µs, and every function identity of every proposal asks where the built-ins are)."""
    import importlib.util

    spec = importlib.util.find_spec("datastation.stdlib")
    if spec is None or not spec.submodule_search_locations:
        return Path(__file__).resolve().parent.parent / "stdlib"
    return Path(list(spec.submodule_search_locations)[0])


@functools.cache
def stdlib_functions() -> dict[str, FunctionSig]:
    """The one registry of built-in functions: every public function of the stdlib modules
    listed in its `MODULES`, read with `ast` (the stdlib is not imported), each with its
    signature and defining file. The escrow locates built-ins through it too
    (`contracts.functions.stdlib_functions` is its name -> file view)."""
    folder = stdlib_dir()
    names = _stdlib_module_names(folder)
    out: dict[str, FunctionSig] = {}
    for name in names:
        path = folder / f"{name}.py"
        try:
            out.update(read_functions(path.read_text(encoding="utf-8"), path, builtin=True))
        except (OSError, ModuleError):
            continue
    return out


def _stdlib_module_names(folder: Path) -> tuple[str, ...]:
    """`MODULES` from stdlib/__init__.py, read with ast (a tuple of module names)."""
    try:
        tree = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return ()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:  # MODULES: tuple[str, ...] = (...)
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "MODULES" for t in targets):
            try:
                return tuple(ast.literal_eval(node.value))
            except ValueError:
                return ()
    return ()
