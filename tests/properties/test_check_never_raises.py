"""`check_source` and `dsc check` never raise on any input: every problem comes back as a diagnostic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datastation.dsl.check import check_source
from datastation.dsl.diagnostics import Diagnostic
from datastation.dsl.tokens import tokenize

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "tests" / "corpus" / "valid").glob("*.dsc")) + sorted((ROOT / "examples").glob("*/*.dsc"))
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in SEEDS if p.stat().st_size > 40]

VOCAB = ["agent", "data", "contract", "policy", "never", "goal", "use", "by", "compute", "keep", "to", "require",
         "ensure", "for", "in", "and", "or", "not", "true", "false", "any", "allow", "deny", "on", "except",
         "reaches", "receives", "mock", "result", "a", "b", "bank1", "x", "f", "rows", "{", "}", "(", ")", "[", "]",
         ",", ".", ":", "=", "==", "<", ">=", "+", "-", "*", "/", "%", '"s"', '"', "1", "2.5", "1e6", "#c", "\n",
         "\x00", "\U0001F600", "é"]


def assert_checks(text: str) -> None:
    result = check_source(text, "t.dsc")
    assert all(isinstance(d, Diagnostic) for d in result.diagnostics)
    for d in result.diagnostics:
        assert d.code.startswith("DSC") and len(d.code) == 6
        assert d.span.line >= 1 and d.span.column >= 1


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_arbitrary_text(text):
    assert_checks(text)


@SETTINGS
@given(st.lists(st.sampled_from(VOCAB), max_size=80).map(" ".join))
def test_token_soup(text):
    assert_checks(text)


def _mutate(text: str, data) -> str:
    tokens, _, _ = tokenize(text, "t")
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        op = data.draw(st.sampled_from(["delete_token", "duplicate_token", "insert_token", "delete_char",
                                        "insert_char", "swap_lines"]), label="op")
        if op.endswith("_token") and tokens:
            tok = data.draw(st.sampled_from(tokens), label="token")
            s, e = tok.start_pos, tok.end_pos
            if op == "delete_token":
                text = text[:s] + text[e:]
            elif op == "duplicate_token":
                text = text[:e] + " " + text[s:e] + text[e:]
            else:
                text = text[:s] + data.draw(st.sampled_from(VOCAB), label="new") + " " + text[s:]
            tokens, _, _ = tokenize(text, "t")
        elif op == "delete_char" and text:
            i = data.draw(st.integers(0, len(text) - 1), label="at")
            text = text[:i] + text[i + 1:]
        elif op == "insert_char":
            i = data.draw(st.integers(0, len(text)), label="at")
            text = text[:i] + data.draw(st.characters(blacklist_categories=("Cs",)), label="ch") + text[i:]
        elif op == "swap_lines":
            lines = text.split("\n")
            if len(lines) > 1:
                i = data.draw(st.integers(0, len(lines) - 2), label="line")
                lines[i], lines[i + 1] = lines[i + 1], lines[i]
                text = "\n".join(lines)
    return text


@SETTINGS
@given(st.data())
def test_mutated_valid_programs(data):
    text = data.draw(st.sampled_from(SEED_TEXTS), label="seed")
    assert_checks(_mutate(text, data))


def test_huge_line():
    assert_checks("agent " + "a" * 100_000)
    assert_checks('agent a "' + "x" * 100_000)
    assert_checks("contract c { by a compute f(" + ", ".join(["x"] * 5_000) + ") to a }")


def test_deeply_nested_brackets():
    for open_, close in (("(", ")"), ("[", "]"), ("{", "}")):
        assert_checks("contract c { by a compute f(" + open_ * 10_000 + "1" + close * 10_000 + ") to a }")
        assert_checks(open_ * 10_000)


def test_long_chains_are_checked_fully():
    head = 'agent a\ndata a.x csv "x.csv"\ncontract c { by a compute rows(a.x) to a require '
    for op in ("and", "or", "+", "*"):
        term = "rows(a.x) > 1" if op in ("and", "or") else "1"
        tail = " }" if op in ("and", "or") else " > 0 }"
        n = 5000 if op == "and" else 1500
        result = check_source(head + f" {op} ".join([term] * n) + tail, "t.dsc")
        assert not result.errors, [str(d.span) + d.code for d in result.errors[:3]]
    # 5000 nested `not`s may be refused as too deep (DSC004), but never crash.
    result = check_source(head + "not " * 5000 + "true }", "t.dsc")
    assert {d.code for d in result.errors} <= {"DSC004"}
    result = check_source(head + "for q in [a]: " * 1500 + "true }", "t.dsc")
    assert not result.errors


@settings(max_examples=6, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=40))
def test_cli_on_random_bytes_never_crashes(tmp_path_factory, blobs):
    """One `dsc check` run over many random byte files (one process per example keeps this fast)."""
    folder = tmp_path_factory.mktemp("bytes")
    paths = []
    for i, raw in enumerate(blobs):
        path = folder / f"random{i}.dsc"
        path.write_bytes(raw)
        paths.append(str(path))
    r = subprocess.run([sys.executable, "-c", "import sys; from datastation.runtime.cli import main; sys.exit(main())",
                        "check", "--format", "json", *paths], capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "DSC099" not in r.stderr
