"""`check`: parse a program, build its symbol table and run every checker rule over it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import codes, ir
from .checks import RULES, CheckContext
from .diagnostics import Diagnostic, Severity, Span, error, sort_key
from .parser import ParseResult, parse, read_source, without_gc
from .symbols import Symbols


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckResult:
    file: str
    source: str
    program: ir.Program
    symbols: Symbols
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_source(text: str, file: str = "<input>", base_dir: Path | str | None = None) -> CheckResult:
    """Check .dsc source text. `base_dir` resolves `use` and data paths (default: the file's folder)."""
    parsed = parse(text, file)
    if base_dir is None:
        base_dir = Path(file).parent if file not in ("<input>", "-", "<stdin>") else Path(".")
    return _check_parsed(parsed, text, file, Path(base_dir))


def check_file(path: str | Path) -> CheckResult:
    """Check a .dsc file; an unreadable file gives a single DSC005 diagnostic."""
    text, problem = read_source(path)
    if problem is not None:
        empty = ir.Program(decls=(), file=str(path))
        return CheckResult(
            file=str(path), source="", program=empty, symbols=Symbols(empty, Path(path).parent), diagnostics=(problem,)
        )
    return check_source(text, str(path), Path(path).parent)


def _check_parsed(parsed: ParseResult, text: str, file: str, base_dir: Path) -> CheckResult:
    program = parsed.program
    diags: list[Diagnostic] = list(parsed.diagnostics)
    symbols = Symbols(program, base_dir)
    ctx = CheckContext(program=program, symbols=symbols, base_dir=base_dir, broken=parsed.broken,
                       has_syntax_errors=bool(parsed.diagnostics))
    for rule in RULES:
        try:
            with without_gc():
                diags.extend(rule.check(ctx))
        except RecursionError:
            diags.append(
                error(codes.NESTED_TOO_DEEPLY, "an expression is nested too deeply to check",
                      program.decls[0].span if program.decls else Span(file=file),
                      help="split the expression into smaller parts")
            )
            break
    unique = list(dict.fromkeys(diags))
    unique.sort(key=sort_key)
    return CheckResult(file=file, source=text, program=program, symbols=symbols, diagnostics=tuple(unique))
