"""The Pygments lexer: every construct gets its token type; no example lexes to an Error token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Token, string_to_tokentype

from datastation.dsl.pygments_lexer import DscLexer

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CASES = yaml.safe_load((HERE / "pygments_cases.yaml").read_text(encoding="utf-8"))
SAMPLES = sorted(REPO.glob("examples/*/*.dsc")) + sorted((REPO / "editors/vscode/tests/snap").glob("*.dsc"))


def _tokens(text: str) -> list[tuple]:
    return [(t, v) for t, v in DscLexer().get_tokens(text) if v.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_construct_token_types(case):
    tokens = _tokens(case["source"])
    rest = iter(tokens)
    for text, ttype in case["expect"]:
        want = string_to_tokentype(ttype)
        for got_type, got_text in rest:
            if got_text == text:
                assert got_type is want, f"{text!r}: {got_type} instead of {want} in {tokens}"
                break
        else:
            pytest.fail(f"{text!r} ({ttype}) not found in order in {tokens}")


@pytest.mark.parametrize("path", SAMPLES, ids=[str(p.relative_to(REPO)) for p in SAMPLES])
def test_no_error_tokens(path):
    text = path.read_text(encoding="utf-8")
    tokens = list(DscLexer().get_tokens(text))
    assert "".join(v for _, v in tokens) == (text if text.endswith("\n") else text + "\n")
    errors = [v for t, v in tokens if t in Error]
    assert errors == []


def test_examples_exist_or_constructs_file_is_checked():
    assert SAMPLES, "no .dsc sample found"


def test_registered_through_entry_point():
    assert isinstance(get_lexer_by_name("dsc"), DscLexer)
    assert isinstance(get_lexer_for_filename("contract.dsc"), DscLexer)


def test_python_m_pygments_highlights_a_file(tmp_path):
    src = tmp_path / "x.dsc"
    src.write_text('agent bank1 "First Bank"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pygments", "-l", "dsc", "-f", "html", str(src)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '<span class="kd">agent</span>' in proc.stdout and '<span class="nc">bank1</span>' in proc.stdout


def test_every_token_type_of_the_table_is_used():
    """Guards the scope plan: each construct's token type appears in the all-constructs file."""
    text = (REPO / "editors/vscode/tests/snap/constructs.dsc").read_text(encoding="utf-8")
    used = {t for t, _ in DscLexer().get_tokens(text)}
    for name in ("Keyword.Namespace", "Keyword.Declaration", "Keyword", "Keyword.Reserved", "Operator.Word",
                 "Keyword.Constant", "Name.Builtin.Pseudo", "Name.Constant", "Name.Class", "Name.Property",
                 "Name.Entity", "Name.Variable", "Name.Attribute", "Name.Function", "Name.Label", "Name.Tag",
                 "Keyword.Type", "Literal.String.Escape", "Literal.Number.Float", "Literal.Number.Integer",
                 "Comment.Single", "Operator"):
        assert string_to_tokentype(name) in used, name
    assert Token.Error not in used


@pytest.mark.parametrize("path", SAMPLES, ids=[str(p.relative_to(REPO)) for p in SAMPLES])
def test_single_lines_lex_without_errors(path):
    """Diagnostics colour one source line at a time: a line out of context must not show errors."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        errors = [v for t, v in DscLexer().get_tokens(line) if t in Error]
        assert errors == [], f"line {n}: {line!r}"
