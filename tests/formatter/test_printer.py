"""One flat printer: `dsc fmt`, condition reports and owners' summaries print expressions alike."""

from __future__ import annotations

import pytest

from datastation.contracts import conditions, summary
from datastation.dsl import ir, printer
from datastation.dsl.formatter import format_source
from datastation.dsl.parser import parse


def _expr(text: str) -> ir.Expr:
    r = parse(f"contract c {{ require {text} }}", "c.dsc")
    assert not r.diagnostics, r.diagnostics
    return r.program.contracts[0].requires[0]


def test_conditions_and_summaries_use_the_printer():
    assert conditions.to_source is printer.to_source
    assert summary.to_source is printer.to_source


@pytest.mark.parametrize("text, printed", [
    ("rows(a.t) >= 2000 and rows(b.t) >= 2000", "rows(a.t) >= 2000 and rows(b.t) >= 2000"),
    ("((a)) + (b * c)", "a + b * c"),
    ("a - (b - c)", "a - (b - c)"),
    ("(a < b) == c", "(a < b) == c"),
    ("- - a", "-(-a)"),
    ("not not a", "not not a"),
    ("(a + b).x", "(a + b).x"),
    ("x > 1e999", "x > 1e999"),
    ("for b in [x, y]: f(b.t, k = \"q\\\"\") > 0", "for b in [x, y]: f(b.t, k = \"q\\\"\") > 0"),
    ("(for b in [x]: b.ok) and true", "(for b in [x]: b.ok) and true"),
])
def test_printed_text_reads_back_as_the_same_expression(text, printed):
    e = _expr(text)
    assert printer.to_source(e) == printed
    assert _expr(printed) == e


def test_printer_is_the_formatters_flat_layout():
    text = "a + b * (c - d) >= -f(x.t, k = [1, 2.5]) or not (p and q)"
    out, _ = format_source(f"contract c {{\n  require {text}\n}}\n")
    assert f"require {printer.to_source(_expr(text))}\n" in out


def test_a_long_chain_prints_without_recursion():
    e = _expr(" and ".join(f"x{i} > {i}" for i in range(3000)))
    assert printer.to_source(e).count(" and ") == 2999


def test_one_precedence_table():
    from datastation.dsl import parser

    assert parser._BINARY is ir.BINARY_PRECEDENCE
    assert (parser._NOT_POWER, parser._NEG_POWER) == (ir.P_NOT, ir.P_NEGATE)
    assert ir.COMPARISON_OPS == {"==", "!=", "<", "<=", ">", ">="}
