"""Syntax errors (DSC001-DSC008): located, named in words, recovered from item by item."""

from __future__ import annotations

import re

import pytest
import yaml

from datastation.dsl.check import check_source
from datastation.dsl.parser import parse
from datastation.dsl.render import render

# (source, code, line, column) for the first diagnostic of each case.
CASES = yaml.safe_load(r'''
- ['contract c { by a compute f(x) to a require x > }', DSC001, 1, 49]
- ["contract c {\n  by a\n  compute f(x)\n  to a\n\ncontract d { by a }", DSC001, 6, 1]
- ['agent a "First', DSC002, 1, 9]
- ['agent a @', DSC003, 1, 9]
- ["agent a\u0000", DSC003, 1, 8]
- ['contract c { by a by b compute f(x) to a }', DSC007, 1, 19]
- ['contract c { by a compute f(k = 1, x) to a }', DSC008, 1, 36]
- ['use functions.py', DSC001, 1, 5]
- ['goal a receives', DSC001, 1, 16]
- ['data a.x csv "f" { id int }', DSC001, 1, 23]
''')
RAW_TERMINALS = re.compile(r"\b(RBRACE|LBRACE|LPAR|RPAR|LBRACK|RBRACK|COMMA|DOT|COLON|EQUAL|STAR|NAME|STRING|NUMBER|"
                           r"COMP_OP|ADD_OP|MUL_OP|\$END|REQUIRE|ENSURE|COMPUTE|CONTRACT|AGENT)\b")

BROKEN = [
    'contract c { by a compute f(x) to a require x > }',
    'contract c { by a compute f(x) to a, b, p.users }',
    'contract c { by a compute f(x to a }',
    'contract c { by a compute f(x)) to a }',
    'contract c { by a kep x = f(x) }',
    'contract to { by a }',
    'agent data',
    'policy p { allow f on a.b to x except }',
    'never a.x reaches',
    'data a.x csv',
    'hello world',
    'contract c { by a compute f(x) to a require x = 1 }',
    'contract c { by a compute f(,) to a }',
]


@pytest.mark.parametrize("source,code,line,column", CASES)
def test_first_error_code_and_location(source, code, line, column):
    diags = parse(source, "t.dsc").diagnostics
    assert diags, source
    first = min(diags, key=lambda d: (d.span.line, d.span.column))
    assert (first.code, first.span.line, first.span.column) == (code, line, column)
    assert first.span.end_line > first.span.line or first.span.end_column > first.span.column


@pytest.mark.parametrize("source", BROKEN)
def test_expected_tokens_are_named_in_words(source):
    diags = [d for d in parse(source, "t.dsc").diagnostics if d.code == "DSC001"]
    assert diags
    for d in diags:
        assert d.message.startswith("expected ") or "cannot" in d.message
        assert not RAW_TERMINALS.search(d.message), d.message
        assert not RAW_TERMINALS.search(d.help or ""), d.help


def test_keyword_used_as_a_name_says_so():
    (d,) = [d for d in parse("contract to { by a }", "t.dsc").diagnostics]
    assert "keyword" in d.message and "'to'" in d.message


def test_missing_brace_hint():
    diags = parse("contract c { by a compute f(x) to a\ncontract d { by a compute f(x) to a }", "t.dsc").diagnostics
    assert [d.code for d in diags] == ["DSC001"]
    assert "}" in (diags[0].help or "")


def test_recovery_reports_several_errors_and_keeps_the_good_items():
    src = (
        "agent a\n"
        'agent "Second"\n'  # 2: missing name
        "agent b\n"
        "data a.x csv\n"  # 4: missing path
        'data b.y csv "y.csv"\n'
        "contract c { by a compute f(a.x) to b require > }\n"  # 6: missing operand
        "goal b receives\n"  # 7: missing contract
    )
    result = parse(src, "t.dsc")
    lines = [d.span.line for d in result.diagnostics if d.code == "DSC001"]
    assert len(lines) == 4
    assert lines[0] == 2  # errors are reported in order
    assert {a.name.name for a in result.program.agents} == {"a", "b"}
    assert [d.qualified for d in result.program.data] == ["b.y"]


def test_human_output_shows_location_source_line_and_caret():
    src = "agent a\ncontract c { by a compute f(x) to a require x > }\n"
    result = check_source(src, "t.dsc")
    out = render(result.diagnostics, {"t.dsc": src}, "human")
    lines = out.splitlines()
    assert "t.dsc:2:49" in out
    i = next(i for i, line in enumerate(lines) if "require x > }" in line)
    caret_line = lines[i + 1]
    assert caret_line.rstrip().endswith("^")
    assert caret_line.index("^") == lines[i].index("}")


def test_unterminated_string_does_not_swallow_the_next_line():
    result = parse('agent a "First\nagent b "Second"\n', "t.dsc")
    assert [d.code for d in result.diagnostics] == ["DSC002"]
    assert [a.name.name for a in result.program.agents] == ["a", "b"]


def test_deep_nesting_is_an_error_not_a_crash():
    src = "contract c { by a compute f(" + "(" * 5000 + "1" + ")" * 5000 + ") to a }"
    codes = {d.code for d in parse(src, "t.dsc").diagnostics}
    assert "DSC004" in codes


def test_non_utf8_file(tmp_path):
    from datastation.dsl.check import check_file

    p = tmp_path / "latin1.dsc"
    p.write_bytes('agent a "Premi\xe8re"\n'.encode("latin-1"))
    (d,) = check_file(p).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("DSC005", 1, 15)


def test_unreadable_path(tmp_path):
    from datastation.dsl.check import check_file

    (d,) = check_file(tmp_path / "missing.dsc").diagnostics
    assert d.code == "DSC005"
    (d,) = check_file(tmp_path).diagnostics  # a directory
    assert d.code == "DSC005"


def test_byte_order_mark_is_accepted(tmp_path):
    from datastation.dsl.check import check_file

    p = tmp_path / "bom.dsc"
    p.write_bytes("\ufeffagent a\n".encode("utf-8"))
    assert [d.code for d in check_file(p).diagnostics] == ["DSC071"]


@pytest.mark.parametrize("source,codes", [
    # a keyword used as a declared name is one error, with a hint, not two
    ('agent data "Data Corp"\n', ["DSC001"]),
    # a chained comparison is read as meant after the error: no type error follows
    ('agent a\ndata a.x csv "x"\ncontract c { by a compute rows(a.x) to a require 1 < rows(a.x) < 9 }\n', ["DSC001"]),
    # a misplaced positional argument is left out: no binding errors follow
    ('agent a\ndata a.x csv "x"\ncontract c { by a compute train_classifier(train = [a.x], "y", label = "y") to a }\n',
     ["DSC008"]),
    # functions of a `use` that did not parse are unknown, not undefined
    ('use functions.py\nagent a\ndata a.x csv "x"\ncontract c { by a compute mine(a.x) to a }\n', ["DSC001"]),
])
def test_no_follow_on_errors_after_a_syntax_error(source, codes):
    result = check_source(source, "t.dsc", base_dir=".")
    assert [d.code for d in result.errors] == codes


def test_keyword_as_agent_name_has_the_keyword_hint():
    (d,) = parse('agent data "Data Corp"\n', "t.dsc").diagnostics
    assert (d.span.line, d.span.column) == (1, 7)
    assert "keyword" in (d.help or "")


def test_expected_tokens_are_grouped():
    (d,) = parse("contract c { by a compute f(x) to a require x > }", "t.dsc").diagnostics
    assert d.message == "expected an expression, found '}'"
    (d,) = parse("contract c { by a compute f(x) to a", "t.dsc").diagnostics
    assert "a clause (by, compute, keep, to, require, ensure)" in d.message
    (d,) = parse("hello", "t.dsc").diagnostics
    assert "a declaration" in d.message


def test_expected_tokens_are_only_those_really_accepted():
    # LALR merges states: without simulating the reductions, 'allow' (a policy keyword) and ')'
    # would be listed as acceptable inside a contract.
    (d,) = parse("contract c { by a compute f(x) to a, b, p.users }", "t.dsc").diagnostics
    assert "allow" not in d.message and "')'" not in d.message
    (d,) = parse("contract c { by a compute f(x) to a require x = 1 }", "t.dsc").diagnostics
    assert "')'" not in d.message and "':'" not in d.message
    assert "==" in (d.help or "")
