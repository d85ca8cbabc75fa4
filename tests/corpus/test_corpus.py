"""The .dsc corpus: invalid programs against their expected diagnostics, valid programs against golden IR.

Each `invalid/NAME.dsc` sits beside `NAME.expected.yaml`: the exact, complete list of diagnostics
(`code, line, column, end_line, end_column, severity`, and `related: [{line, column}]` where the
expectation pins the secondary locations too). Each `valid/NAME.dsc` has zero diagnostics and sits
beside `NAME.ir.yaml`, a dump of its IR without spans.

Regenerate expectations and goldens with `DSC_UPDATE_GOLDEN=1 pytest tests/corpus` (then review the diff).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from corpus_support import diag_record, dump_ir  # noqa: E402

from datastation.dsl.check import check_file  # noqa: E402

HERE = Path(__file__).parent
INVALID = sorted((HERE / "invalid").glob("*.dsc"))
VALID = sorted((HERE / "valid").glob("*.dsc"))
UPDATE = os.environ.get("DSC_UPDATE_GOLDEN") == "1"
ALL_CODES_IN_SOURCE = None


def _expected_path(p: Path) -> Path:
    return p.with_name(p.stem + ".expected.yaml")


def _actual(path: Path, expected: list[dict] | None) -> list[dict]:
    result = check_file(path)
    want_related = {i for i, e in enumerate(expected or []) if "related" in e}
    return [diag_record(d, with_related=i in want_related) for i, d in enumerate(result.diagnostics)]


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_program(path: Path):
    exp_path = _expected_path(path)
    expected = yaml.safe_load(exp_path.read_text(encoding="utf-8")) if exp_path.exists() else None
    actual = _actual(path, expected)
    if UPDATE:
        if expected is not None:  # keep hand-written `related` pins where they still apply
            actual = _actual(path, expected)
        exp_path.write_text(yaml.safe_dump(actual, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return
    assert expected is not None, f"missing {exp_path.name} (run with DSC_UPDATE_GOLDEN=1)"
    assert actual == expected
    assert actual, "an invalid program must produce at least one diagnostic"


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_program(path: Path):
    result = check_file(path)
    assert [diag_record(d) for d in result.diagnostics] == []
    golden = path.with_name(path.stem + ".ir.yaml")
    dumped = dump_ir(result.program)
    if UPDATE:
        golden.write_text(yaml.safe_dump(dumped, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return
    assert golden.exists(), f"missing {golden.name} (run with DSC_UPDATE_GOLDEN=1)"
    assert dumped == yaml.safe_load(golden.read_text(encoding="utf-8"))


def _emittable_codes() -> set[str]:
    """Every DSC code the parser and the checker can emit (DSC098/DSC099 belong to fmt and the CLI,
    DSC080/DSC081 to `dsc data add`)."""
    root = HERE.parent.parent
    codes: set[str] = set()
    for f in [*(root / "dsl").rglob("*.py"), root / "runtime" / "commands" / "check.py"]:
        if f.name == "formatter.py" or "lsp" in f.parts:
            continue
        codes |= set(re.findall(r"DSC\d{3}", f.read_text(encoding="utf-8")))
    return codes - {"DSC080", "DSC081", "DSC098", "DSC099"}


def test_corpus_covers_every_code():
    covered = set()
    for p in INVALID:
        exp = _expected_path(p)
        if exp.exists():
            covered |= {d["code"] for d in yaml.safe_load(exp.read_text(encoding="utf-8")) or []}
    missing = sorted(_emittable_codes() - covered)
    assert not missing, f"no invalid program produces {missing}"


def test_corpus_is_large_enough():
    assert len(INVALID) >= 70
    assert len(VALID) >= 5
