"""Golden formatting: `golden/NAME.dsc` formats to `golden/NAME.expected.dsc`.

Regenerate the expected files with `DSC_UPDATE_GOLDEN=1 pytest tests/formatter/test_golden.py`
and review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datastation.dsl.formatter import format_source
from datastation.dsl.parser import parse

GOLDEN = Path(__file__).with_name("golden")
CASES = sorted(p for p in GOLDEN.glob("*.dsc") if not p.name.endswith(".expected.dsc"))
UPDATE = os.environ.get("DSC_UPDATE_GOLDEN") == "1"


def _read(p: Path) -> str:
    return p.read_bytes().decode("utf-8")


def test_enough_golden_cases():
    assert len(CASES) >= 15


@pytest.mark.parametrize("src", CASES, ids=lambda p: p.stem)
def test_golden(src: Path):
    text = _read(src)
    out, diags = format_source(text, src.name)
    assert out is not None, [(d.code, str(d.span), d.message) for d in diags]
    expected_path = src.with_name(src.stem + ".expected.dsc")
    if UPDATE:
        expected_path.write_bytes(out.encode("utf-8"))
    assert out == _read(expected_path)
    # The expected output is a fixed point, means the same program and keeps every comment.
    again, _ = format_source(out, src.name)
    assert again == out
    before, after = parse(text, src.name).program, parse(out, src.name).program
    assert after == before
    assert sorted(c.text for c in after.comments) == sorted(c.text for c in before.comments)
