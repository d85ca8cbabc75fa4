"""Rendering diagnostics: `human` (source line and carets), `plain` (one line each), `json`."""

from __future__ import annotations

import json
import os
import sys
from typing import Iterable, Mapping

from .diagnostics import Diagnostic, Severity

_COLORS = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;33m", Severity.INFO: "\033[1;36m"}
_BOLD, _BLUE, _RESET = "\033[1m", "\033[1;34m", "\033[0m"


def use_color(stream=None) -> bool:
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def render(diags: Iterable[Diagnostic], sources: Mapping[str, str], fmt: str = "human", color: bool = False) -> str:
    diags = list(diags)
    if fmt == "json":
        return render_json(diags, sources)
    if fmt == "plain":
        return "".join(render_plain(d) + "\n" for d in diags)
    return "".join(render_human(d, sources.get(d.span.file), color) + "\n" for d in diags)


def render_plain(d: Diagnostic) -> str:
    s = d.span
    text = f"{s.file}:{s.line}:{s.column}: {d.severity.value} {d.code}: {d.message}"
    if d.help:
        text += f" (help: {d.help})"
    return text


def _snippet(source: str | None, line: int, column: int, end_line: int, end_column: int, color: bool, sev_color: str) -> list[str]:
    if not source:  # unreadable or empty file: there is no line to show
        return []
    lines = source.split("\n")
    if not 1 <= line <= len(lines):
        return []
    text = lines[line - 1].replace("\t", " ")
    width = len(str(line))
    gutter = " " * width
    if end_line != line:
        end_column = len(text) + 1
    carets = max(1, min(end_column, len(text) + 1) - column)
    shown = _highlight(text) if color else text
    bar = f"{_BLUE}|{_RESET}" if color else "|"
    num = f"{_BLUE}{line}{_RESET}" if color else str(line)
    marks = "^" * carets
    if color:
        marks = f"{sev_color}{marks}{_RESET}"
    if len(text) > 300:  # keep huge lines readable: show a window around the caret
        start = max(0, column - 100)
        shown = ("…" if start else "") + text[start : start + 200] + "…"
        column = column - start + (1 if start else 0)
    return [f"{gutter} {bar}", f"{num} {bar} {shown}", f"{gutter} {bar} {' ' * (column - 1)}{marks}"]


def _highlight(text: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter

        from .pygments_lexer import DscLexer

        return highlight(text, DscLexer(), TerminalFormatter()).rstrip("\n")
    except Exception:  # no lexer yet, or pygments missing: plain text is fine
        return text


def render_human(d: Diagnostic, source: str | None, color: bool = False) -> str:
    s = d.span
    sev = d.severity.value
    c = _COLORS[d.severity] if color else ""
    r = _RESET if color else ""
    b = _BOLD if color else ""
    out = [f"{c}{sev}[{d.code}]{r}{b}: {d.message}{r}", f"  --> {s.file}:{s.line}:{s.column}"]
    out += ["  " + x for x in _snippet(source, s.line, s.column, s.end_line, s.end_column, color, c)]
    for rel in d.related:
        rs = rel.span
        out.append(f"  note: {rel.message}")
        out.append(f"    --> {rs.file}:{rs.line}:{rs.column}")
        out += ["    " + x for x in _snippet(source if rs.file == s.file else None, rs.line, rs.column,
                                             rs.end_line, rs.end_column, color, _BLUE if color else "")]
    if d.help:
        out.append(f"  = help: {d.help}")
    return "\n".join(out)


def render_json(diags: list[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """Shaped like `terraform validate -json`. `byte` offsets count UTF-8 bytes when the source is known."""
    errors = sum(1 for d in diags if d.severity is Severity.ERROR)
    warnings = sum(1 for d in diags if d.severity is Severity.WARNING)
    entries = []
    for d in diags:
        entry = d.to_json()
        source = (sources or {}).get(d.span.file)
        if source is not None and not source.isascii():
            _bytes(entry["range"], source)
            for rel in entry.get("related", ()):
                _bytes(rel["range"], source)
        entries.append(entry)
    doc = {
        "format_version": "1.0",
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": warnings,
        "diagnostics": entries,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _bytes(rng: dict, source: str) -> None:
    """Turn the character offsets of a JSON range into UTF-8 byte offsets."""
    for end in ("start", "end"):
        pos = rng[end]
        chars = max(0, min(pos["byte"], len(source)))
        pos["byte"] = len(source[:chars].encode("utf-8", "surrogatepass"))
