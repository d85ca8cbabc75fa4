"""The .dsc language: grammar, parser, IR, checks, flow analysis, formatter and language server."""

from .diagnostics import Diagnostic, Severity, Span

__all__ = ["Diagnostic", "Severity", "Span", "parse", "parse_file"]


def __getattr__(name: str):
    # The parser (and Lark) load on first use, not whenever any `datastation.dsl` module is imported.
    if name in ("parse", "parse_file"):
        from . import parser

        return getattr(parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
