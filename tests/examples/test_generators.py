"""Each generator is deterministic and produced the committed data; each .dsc parses and checks cleanly."""

from __future__ import annotations

import pytest
from _example_support import EXAMPLES, EXAMPLES_DIR, dsc_files, load_module

from datastation.dsl.parser import parse_file

MAX_BYTES_PER_EXAMPLE = 400_000


@pytest.mark.parametrize("example", EXAMPLES)
def test_generator_is_deterministic_and_matches_committed_data(example, tmp_path):
    generate = load_module(example, "generate").generate
    first, second = tmp_path / "first", tmp_path / "second"
    written = generate(first)
    generate(second)
    committed = EXAMPLES_DIR / example / "data"
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in committed.iterdir()), "regenerate with examples/NAME/generate.py"
    for name in names:
        data = (first / name).read_bytes()
        assert data == (second / name).read_bytes(), f"{name} differs between two runs"
        assert data == (committed / name).read_bytes(), f"committed {name} is stale"


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_data_is_small(example):
    size = sum(p.stat().st_size for p in (EXAMPLES_DIR / example / "data").iterdir())
    assert 0 < size <= MAX_BYTES_PER_EXAMPLE


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_has_its_files(example):
    folder = EXAMPLES_DIR / example
    for name in ("README.md", "functions.py", "generate.py", f"{example}.dsc"):
        assert (folder / name).is_file(), name


@pytest.mark.parametrize("path", dsc_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dsc_parses_without_diagnostics(path):
    result = parse_file(path)
    assert result.diagnostics == ()
    assert not result.broken
    assert result.program.contracts


@pytest.mark.parametrize("path", dsc_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dsc_checks_without_any_diagnostic(path):
    check = pytest.importorskip("datastation.dsl.check")
    result = check.check_file(path)
    assert [(d.code, d.span.line, d.message) for d in result.diagnostics] == []
    for data in result.program.data:  # every data file (and mock) named by the example exists
        assert (path.parent / data.path.value).is_file(), data.path.value
        if data.mock is not None:
            assert (path.parent / data.mock.value).is_file(), data.mock.value


@pytest.mark.parametrize("path", dsc_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_dsc_is_formatted(path):
    formatter = pytest.importorskip("datastation.dsl.formatter")
    text = path.read_text(encoding="utf-8")
    formatted, diagnostics = formatter.format_source(text, str(path))
    assert diagnostics == ()
    assert formatted == text, f"run `dsc fmt -w {path}`"
