"""Helpers for the checker-rule tests: inline programs whose expected spans are marked in the text.

Write `«` and `»` around the text a diagnostic should cover; `expect(code, source)` checks that
the diagnostics with that code cover exactly the marked regions, in order.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from datastation.dsl.check import check_source

HERE = Path(__file__).parent
_BASE: Path | None = None

PRELUDE = '''use "lib.py"
agent bank1 "First Bank"
agent bank2 "Second Bank"
data bank1.train csv "data.csv"
data bank2.train csv "data.csv"
'''


def base_dir() -> Path:
    """A folder holding `lib.py` (typed user functions) and `data.csv`, shared by every test."""
    global _BASE
    if _BASE is None:
        _BASE = Path(tempfile.mkdtemp(prefix="dsc-checks-"))
        shutil.copy(HERE / "lib_functions.py", _BASE / "lib.py")
        (_BASE / "data.csv").write_text("id\n1\n", encoding="utf-8")
    return _BASE


def unmark(source: str) -> tuple[str, list[tuple[int, int, int, int]]]:
    """The source without `«»` marks, and the (line, column, end_line, end_column) of each marked region."""
    text, spans, opened = [], [], []
    line, col = 1, 1
    for ch in source:
        if ch == "«":
            opened.append((line, col))
            continue
        if ch == "»":
            start = opened.pop()
            spans.append((*start, line, col))
            continue
        text.append(ch)
        if ch == "\n":
            line, col = line + 1, 1
        else:
            col += 1
    assert not opened, "unbalanced « »"
    return "".join(text), sorted(spans)


def check(source: str, base: Path | None = None):
    return check_source(source, "t.dsc", base_dir=base or base_dir())


def spans(code: str, source: str, base: Path | None = None) -> list[tuple[int, int, int, int]]:
    """Where diagnostics with `code` are reported in `source` (marks removed)."""
    text, _ = unmark(source)
    return [
        (d.span.line, d.span.column, d.span.end_line, d.span.end_column)
        for d in check(text, base).diagnostics
        if d.code == code
    ]


def expect(code: str, source: str, base: Path | None = None) -> list:
    """Assert that `code` is reported exactly at the marked regions; return those diagnostics."""
    text, marks = unmark(source)
    result = check(text, base)
    found = [d for d in result.diagnostics if d.code == code]
    assert [(d.span.line, d.span.column, d.span.end_line, d.span.end_column) for d in found] == marks, (
        "\n".join(f"{d.code} {d.span} {d.message}" for d in result.diagnostics)
    )
    return found


def codes(source: str, base: Path | None = None) -> list[str]:
    text, _ = unmark(source)
    return [d.code for d in check(text, base).diagnostics]


def severity(code: str, source: str) -> set[str]:
    text, _ = unmark(source)
    return {d.severity.value for d in check(text).diagnostics if d.code == code}
