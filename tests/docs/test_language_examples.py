"""Every ```dsc example in docs/language.md is a complete program that checks without errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from datastation.dsl.check import check_source

DOC = Path(__file__).resolve().parents[2] / "docs" / "language.md"
BLOCKS = re.findall(r"```dsc\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_reference_has_examples():
    assert len(BLOCKS) >= 9


@pytest.mark.parametrize("source", BLOCKS, ids=[f"example{i + 1}" for i in range(len(BLOCKS))])
def test_example_checks(source, tmp_path):
    (tmp_path / "functions.py").write_text('def helper(x: int) -> int:\n    """Unused helper."""\n    return x\n')
    result = check_source(source, str(tmp_path / "example.dsc"), tmp_path)
    assert [(d.code, d.span.line, d.message) for d in result.errors] == []
