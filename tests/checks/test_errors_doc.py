"""docs/errors.md documents every code of the catalogue (`dsl/codes.py`) and nothing else, and
its examples really produce (and fix) that code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from datastation.dsl import checks, codes
from datastation.dsl.check import check_file

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
TOOL_CODES = {codes.FORMATTER_REFUSED, codes.INTERNAL_ERROR,  # documented, not produced by `check`
              codes.DATA_SCHEMA_MISMATCH, codes.DATA_DUPLICATE_COLUMN}

SECTION = re.compile(r"^## (DSC\d{3}) — (.+)$", re.M)
SEVERITY = re.compile(r"^\*\*Severity:\*\* (\w+)$", re.M)
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.M | re.S)


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    heads = list(SECTION.finditer(text))
    return {m.group(1): text[m.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
            for i, m in enumerate(heads)}


SECTIONS = _sections()
TITLES = dict(SECTION.findall(DOC.read_text(encoding="utf-8")))


def _emitted_codes() -> set[str]:
    codes: set[str] = set()
    for folder in ("dsl", "runtime", "contracts", "stdlib"):
        for f in (ROOT / folder).rglob("*.py"):
            codes |= set(re.findall(r"DSC\d{3}", f.read_text(encoding="utf-8", errors="replace")))
    return codes


def _split(body: str) -> tuple[str, str]:
    """The failing part (before the first line starting with "Fix") and the fixed part."""
    m = re.search(r"^Fix\b", body, re.M)
    assert m, "no 'Fix' paragraph"
    return body[: m.start()], body[m.start():]


def _run(part: str, folder: Path):
    """Write the part's module files, then check its `dsc` block as a file in `folder`."""
    (folder / "data.csv").write_text("id,is_fraud\n1,true\n", encoding="utf-8")
    program = None
    for lang, info, code in FENCE.findall(part):
        attrs = dict(a.split("=", 1) for a in info.split() if "=" in a)
        if lang == "python":
            (folder / attrs["file"]).write_text(code, encoding="utf-8")
        elif lang == "dsc" and program is None:
            program = folder / "example.dsc"
            program.write_bytes(code.encode(attrs.get("encoding", "utf-8")))
    assert program is not None, "no ```dsc example"
    return check_file(program).diagnostics


def test_every_catalogued_code_is_documented_and_vice_versa():
    assert sorted(codes.CATALOGUE) == sorted(SECTIONS)


@pytest.mark.parametrize("code", sorted(codes.CATALOGUE))
def test_catalogue_and_documentation_agree_on_title_and_severity(code):
    entry = codes.CATALOGUE[code]
    assert entry.code == code
    assert TITLES.get(code) == entry.title
    assert SEVERITY.search(SECTIONS.get(code, "")).group(1) == entry.severity


def test_every_code_in_the_source_is_catalogued():
    assert _emitted_codes() - set(codes.CATALOGUE) == set()


# Not yet switched to the constants: files another change owns (the parser's diagnostics).
def test_codes_are_named_by_constant():
    """Outside the catalogue, no module of the product writes a code as a string literal."""
    found = []
    for f in sorted(p for folder in ("dsl", "contracts", "runtime", "stdlib") for p in (ROOT / folder).rglob("*.py")):
        if f == ROOT / "dsl" / "codes.py":
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"DSC\d{3}", node.value):
                found.append(f"{f.relative_to(ROOT)}:{node.lineno}: {node.value}")
    assert not found, found


def test_every_rule_is_listed_and_names_its_codes():
    modules = {p.stem for p in (ROOT / "dsl" / "checks").glob("*.py") if p.stem != "__init__"}
    assert sorted(r.__name__.rsplit(".", 1)[1] for r in checks.RULES) == sorted(modules)
    for rule in checks.RULES:
        assert rule.CODES and set(rule.CODES) <= set(codes.CATALOGUE), rule.__name__


def test_sections_are_in_order_and_complete():
    assert list(SECTIONS) == sorted(SECTIONS)
    for code, body in SECTIONS.items():
        assert SEVERITY.search(body).group(1) in ("error", "warning"), code
        assert FENCE.search(body), code
        _split(body)


@pytest.mark.parametrize("code", sorted(set(SECTIONS) - TOOL_CODES))
def test_failing_example_produces_the_code_and_the_fix_removes_it(code, tmp_path):
    body = SECTIONS[code]
    severity = SEVERITY.search(body).group(1)
    failing, fixed = _split(body)
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    bad = _run(failing, tmp_path / "bad")
    hits = [d for d in bad if d.code == code]
    assert hits, f"{code}: example gives {[d.code for d in bad]}"
    assert {d.severity.value for d in hits} == {severity}
    good = _run(fixed, tmp_path / "good")
    assert code not in {d.code for d in good}, [f"{d.code} {d.message}" for d in good]
    assert not [d for d in good if d.is_error], [f"{d.code} {d.message}" for d in good]
