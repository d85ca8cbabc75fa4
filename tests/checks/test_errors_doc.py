"""docs/errors.md documents every code, and its examples really produce (and fix) that code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datastation.dsl.check import check_file

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
TOOL_CODES = {"DSC098", "DSC099"}  # formatter and CLI codes: documented, not produced by `check`

SECTION = re.compile(r"^## (DSC\d{3}) — (.+)$", re.M)
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.M | re.S)


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    heads = list(SECTION.finditer(text))
    return {m.group(1): text[m.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
            for i, m in enumerate(heads)}


SECTIONS = _sections()


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


def test_every_emitted_code_is_documented():
    missing = sorted(_emitted_codes() - set(SECTIONS))
    assert not missing, f"codes without a section in docs/errors.md: {missing}"


def test_every_documented_code_exists():
    assert not sorted(set(SECTIONS) - _emitted_codes())


def test_sections_are_in_order_and_complete():
    assert list(SECTIONS) == sorted(SECTIONS)
    for code, body in SECTIONS.items():
        assert re.search(r"^\*\*Severity:\*\* (error|warning)$", body, re.M), code
        assert FENCE.search(body), code
        _split(body)


@pytest.mark.parametrize("code", sorted(set(SECTIONS) - TOOL_CODES))
def test_failing_example_produces_the_code_and_the_fix_removes_it(code, tmp_path):
    body = SECTIONS[code]
    severity = re.search(r"^\*\*Severity:\*\* (\w+)$", body, re.M).group(1)
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
