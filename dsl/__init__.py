"""The .dsc language: grammar, parser, IR, checks, flow analysis and formatter."""

from .diagnostics import Diagnostic, Severity, Span
from .parser import parse, parse_file

__all__ = ["Diagnostic", "Severity", "Span", "parse", "parse_file"]
