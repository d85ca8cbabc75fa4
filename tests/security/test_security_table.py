"""Hole 4(d): `docs/security.md` holds the table of attacks, and every test it names exists.

A row names tests as `file.py::name` (a file of `tests/security/`, or a path from the
repository root) and `::name` (the file named before it in the same row). Each must be a
module-level test function of that file, read with `ast` (nothing is imported).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
HOLES = {str(n) for n in range(1, 11)}
TOKEN = re.compile(r"`([^`\s]*::[A-Za-z_][A-Za-z0-9_]*)`")


def table_rows() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Attacks and the tests that play them", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("| ---") and not line.startswith("| hole"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def named_tests(cell: str) -> list[tuple[Path, str]]:
    out, current = [], None
    for token in TOKEN.findall(cell):
        file, name = token.split("::")
        if file:
            current = ROOT / file if "/" in file else ROOT / "tests" / "security" / file
        assert current is not None, f"`{token}` continues no file"
        out.append((current, name))
    return out


@lru_cache(maxsize=None)
def functions_of(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))


def test_every_test_the_table_names_exists():
    rows = table_rows()
    assert len(rows) > 20
    missing = []
    for row in rows:
        assert len(row) == 4, row
        tests = named_tests(row[3])
        assert tests, f"a row names no test: {row[1]}"
        for path, name in tests:
            if not path.is_file() or not name.startswith("test_") or name not in functions_of(path):
                missing.append(f"{path.relative_to(ROOT)}::{name}")
    assert not missing, missing


def test_the_table_covers_every_hole():
    holes = {re.match(r"\d+", row[0]).group() for row in table_rows() if re.match(r"\d+", row[0])}
    assert holes == HOLES
    kept = " ".join(row[1] for row in table_rows() if row[0] == "kept")
    for promise in ("signatures", "replayed within one escrow", "provenance", "audit-chain", "Docker containment"):
        assert promise in kept, promise


def test_the_threat_model_names_each_mode():
    text = DOC.read_text(encoding="utf-8")
    for heading in ("## Threat model", "### Full trust", "### No trust", "Not protected against in full trust",
                    "What no trust adds", "Not protected against in no trust"):
        assert heading in text, heading


def test_the_table_covers_every_red_team_hole():
    """The red teams' holes (H1-H25) each have a row naming the tests that play them."""
    rows = {row[0] for row in table_rows()}
    assert {f"H{n}" for n in range(1, 26)} <= rows, sorted(rows)
