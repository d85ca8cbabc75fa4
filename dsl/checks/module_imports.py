"""DSC039: a `use` module imports another local module.

A function's identity covers its own module's import statements, not the code of a module they
import: an installed library is part of the escrow's environment, but another module of the
proposal (or a file beside it) is user code that no identity would cover, and the escrow runs
a function from its closure alone, where such an import would not find it. Relative imports,
imports of a module the file `use`s, and (when the modules are read from disk) imports of a
`.py` file or package beside the .dsc file or the module are refused: put the helper into the
module that uses it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from .. import codes
from ..diagnostics import Related, Span, error

CODES = (codes.IMPORTS_LOCAL_MODULE,)


def _use_names(sym) -> set[str]:
    """The names under which the program's `use` modules (and their folders) could be imported."""
    names: set[str] = set()
    for m in sym.modules:
        path = PurePosixPath(m.use.path.value.replace("\\", "/"))
        parts = [p for p in (path.with_suffix("") if path.name else path).parts if p not in ("", ".", "/")]
        if parts:
            names.add(parts[0])
            names.add(parts[-1])
    return names


def _beside(folder: Path, name: str) -> bool:
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def _why(imp, sym, m, local: set[str]) -> str | None:
    if imp.level:
        return "a relative import"
    if imp.top in local:
        return f"'{imp.module}' is a module of this program"
    if sym.reads_disk and (_beside(m.path.parent, imp.top) or _beside(Path(sym.base_dir).resolve(), imp.top)):
        return f"'{imp.module}' is a local file, not part of a proposal"
    return None


def check(ctx):
    sym = ctx.symbols
    local = _use_names(sym)
    for m in sym.modules:
        for imp in m.imports:
            why = _why(imp, sym, m, local)
            if why is None:
                continue
            where = Span(str(m.path), imp.line, imp.column, imp.end_line, imp.end_column)
            yield error(
                codes.IMPORTS_LOCAL_MODULE,
                f"module '{m.use.path.value}' line {imp.line} imports local code ({why}): no identity covers it",
                m.use.path.span,
                help="move the helper into the module whose functions use it",
                related=[Related(message="this import", span=where)],
            )
