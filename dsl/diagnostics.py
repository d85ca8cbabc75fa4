"""The one diagnostic type shared by the checker, the formatter, the CLI and the language server."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Span(NamedTuple):
    """A region of a source file. Lines and columns are 1-based; `end_column` is exclusive.

    A named tuple rather than a dataclass: the parser makes one for nearly every token, and
    building a tuple costs a fraction of a frozen dataclass's `__init__`.
    """

    file: str = "<input>"
    line: int = 1
    column: int = 1
    end_line: int = 1
    end_column: int = 1
    start: int = 0  # character offsets into the source text
    end: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def to_json(self) -> dict:
        return {
            "filename": self.file,
            "start": {"line": self.line, "column": self.column, "byte": self.start},
            "end": {"line": self.end_line, "column": self.end_column, "byte": self.end},
        }

    @staticmethod
    def cover(first: "Span", last: "Span") -> "Span":
        """The span from the start of `first` to the end of `last`."""
        return Span(first[0], first[1], first[2], last[3], last[4], first[5], last[6])


NO_SPAN = Span()


@dataclass(frozen=True, kw_only=True, slots=True)
class Related:
    """A secondary location that explains a diagnostic (e.g. one step of a flow path)."""

    message: str
    span: Span


@dataclass(frozen=True, kw_only=True, slots=True)
class Diagnostic:
    """A located problem: stable code, severity, message, span and an optional help line."""

    code: str
    severity: Severity
    message: str
    span: Span
    help: str | None = None
    related: tuple[Related, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict:
        """Shaped like one entry of `terraform validate -json`'s `diagnostics`."""
        out = {
            "severity": self.severity.value,
            "code": self.code,
            "summary": self.message,
            "detail": self.help or "",
            "range": self.span.to_json(),
        }
        if self.related:
            out["related"] = [{"message": r.message, "range": r.span.to_json()} for r in self.related]
        return out


def error(code: str, message: str, span: Span, help: str | None = None, related=()) -> Diagnostic:
    return Diagnostic(code=code, severity=Severity.ERROR, message=message, span=span, help=help, related=tuple(related))


def warning(code: str, message: str, span: Span, help: str | None = None, related=()) -> Diagnostic:
    return Diagnostic(code=code, severity=Severity.WARNING, message=message, span=span, help=help, related=tuple(related))


def sort_key(d: Diagnostic):
    return (d.span.file, d.span.start, d.code)
