"""What a `use` module holds besides its functions, read with `ast` (never imported).

The escrow runs a user function as its *closure*: the module's imports, the top-level
definitions the function refers to (transitively) and the `def` itself, exactly the text its
identity hashes (`datastation.contracts.functions`). Anything else at a module's top level
would never run there, yet Python runs it on an ordinary import, so a module's meaning could
hang on code no identity covers (an `if True:` block redefining a function, a bare call that
mutates a helper). The checker therefore accepts at top level only:

* a module docstring;
* `import` / `from … import …`;
* `def`, `async def`, `class`;
* constant assignments: `NAME = value` (or `NAME: annotation = value`, or several names)
  whose value is a literal, a container of literals, or the name of a constant defined
  above it (a container may mix both);
* `if __name__ == "__main__":` without `else`: it never runs in the escrow, where a module is
  never the main program.

`outside_code` lists the rest (DSC038). `imports_of` lists every import of a module, at any
depth, so that the checker can refuse imports of other local modules (DSC039): their code
would run outside every identity.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement of a module: where it is and what it is, in words."""

    line: int
    column: int  # 1-based
    end_line: int
    end_column: int  # exclusive, 1-based
    what: str


@dataclass(frozen=True, slots=True)
class Import:
    """An import: the module it names (`""` for `from . import x`) and how many dots lead it."""

    module: str
    level: int
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def top(self) -> str:
        """The first component of the imported module's dotted name."""
        return self.module.split(".", 1)[0]


_KEYWORDS = {
    ast.If: "an `if` block", ast.Try: "a `try` block", ast.For: "a `for` loop", ast.AsyncFor: "a `for` loop",
    ast.While: "a `while` loop", ast.With: "a `with` block", ast.AsyncWith: "a `with` block",
    ast.Delete: "a `del` statement", ast.Global: "a `global` statement", ast.Nonlocal: "a `nonlocal` statement",
    ast.Assert: "an `assert` statement", ast.Raise: "a `raise` statement", ast.Pass: "a `pass` statement",
    ast.AugAssign: "an augmented assignment", ast.Match: "a `match` block", ast.Return: "a `return` statement",
    ast.Break: "a `break` statement", ast.Continue: "a `continue` statement",
}
_TRY_STAR = getattr(ast, "TryStar", None)
if _TRY_STAR is not None:
    _KEYWORDS[_TRY_STAR] = "a `try` block"

# Nodes an annotation of a constant may not contain: they run code when the module is imported.
_RUNS_CODE = (ast.Call, ast.Lambda, ast.NamedExpr, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
              ast.Await, ast.Yield, ast.YieldFrom)


def _statement(node: ast.stmt, what: str) -> Statement:
    return Statement(node.lineno, node.col_offset + 1, node.end_lineno or node.lineno,
                     (node.end_col_offset or node.col_offset) + 1, what)


def _is_constant(value: ast.expr, constants: set[str]) -> bool:
    """A literal, a container of constants, or the name of a constant defined above."""
    if isinstance(value, ast.Name):
        return value.id in constants
    if isinstance(value, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant(e, constants) for e in value.elts)
    if isinstance(value, ast.Dict):
        return all(k is not None and _is_constant(k, constants) for k in value.keys) and all(
            _is_constant(v, constants) for v in value.values)
    try:
        ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _names(target: ast.expr) -> list[str] | None:
    """The names a constant assignment binds, or None when the target is not plain names."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        out: list[str] = []
        for t in target.elts:
            names = _names(t)
            if names is None:
                return None
            out += names
        return out
    return None


def _assignment(node: ast.Assign | ast.AnnAssign, constants: set[str]) -> str | None:
    """Why an assignment is not a constant assignment (None when it is one)."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    bound = [_names(t) for t in targets]
    if any(b is None for b in bound):
        return "an assignment to an attribute or an item"
    if isinstance(node, ast.AnnAssign):
        if node.value is None:
            return "an annotation without a value"
        if any(isinstance(n, _RUNS_CODE) for n in ast.walk(node.annotation)):
            return "an annotation that calls code"
    if not _is_constant(node.value, constants):
        return "an assignment of a computed value"
    constants.update(n for b in bound for n in b)
    return None


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or node.orelse:
        return False
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1


def outside_code(tree: ast.Module) -> tuple[Statement, ...]:
    """The top-level statements of a module that are not allowed there (see the module docstring)."""
    out: list[Statement] = []
    constants: set[str] = set()
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue  # the module docstring
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            why = _assignment(node, constants)
            if why is not None:
                out.append(_statement(node, why))
            continue
        if _is_main_guard(node):
            continue
        if isinstance(node, ast.Expr):
            what = "a call" if isinstance(node.value, ast.Call) else "an expression"
        else:
            what = _KEYWORDS.get(type(node), f"a `{type(node).__name__}` statement")
        out.append(_statement(node, what))
    return tuple(out)


def imports_of(tree: ast.Module) -> tuple[Import, ...]:
    """Every import of a module, at any depth (inside functions too), in source order."""
    out: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(a.name, 0, *_where(node)) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append(Import(node.module or "", node.level, *_where(node)))
    out.sort(key=lambda i: (i.line, i.column))
    return tuple(out)


def _where(node: ast.stmt) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset + 1, node.end_lineno or node.lineno,
            (node.end_col_offset or node.col_offset) + 1)
