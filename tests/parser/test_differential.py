"""The fast parser against the reference: Lark's own LALR parser building the same IR.

`parser.parse` runs `lalr.Driver`, a re-keyed copy of Lark's LALR table with folded unit
reductions and inline reduce paths; `reference_parser.parse` runs Lark's own parser with the
same IR builder as its callbacks, on the same tokens cut into the same items. On every program
we have, and on mutations of them, both must give the same `ParseResult`: the same IR (spans
included, which `==` on IR nodes ignores), the same diagnostics (code, span, wording, related
locations) and the same broken names.
"""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datastation.dsl import lalr, parser, reference_parser
from datastation.dsl.diagnostics import Span
from datastation.dsl.tokens import KEYWORDS, PUNCTUATION, split_items, tokenize

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted(
    [
        *(ROOT / "tests" / "corpus").glob("*/*.dsc"),
        *(ROOT / "examples").glob("**/*.dsc"),
        *(ROOT / "tests" / "formatter" / "golden").glob("*.dsc"),
    ]
)
# As `dsc check` reads them (a file that is not UTF-8 never reaches the parser).
TEXTS = {p.relative_to(ROOT).as_posix(): text for p in PROGRAMS if (text := parser.read_source(p)[0]) is not None}
SEEDS = [t for t in TEXTS.values() if t.strip()]

# Inputs no file holds: the edges of the item splitting, recursion and the tokenizer's repairs.
EDGES = [
    "",
    "# only a comment",
    "}",
    "contract",
    "contract c {",
    "agent data \"Data Corp\"",
    "agent a agent b",
    'agent a "unterminated\nagent b',
    "contract c { by a compute f(x) to a require " + "not " * 3000 + "x }",
    "contract c { by a compute f(x) to a require " + "- " * 3000 + "x }",
    "contract c { by a compute f(" + "(" * 300 + "1" + ")" * 300 + ") to a }",
    "contract c { by a compute f(x) to a require " + " and ".join(["x < 1"] * 200) + " }",
    "contract c { by a compute f(x) to a require 1 < 2 < 3 == 4 }",
    "contract c { by a compute f(k = 1, 2, j = [3,], 4,) to a, b, }",
    "contract c { by a by b compute f() keep k = g() to a to b }",
    "contract c { by a compute f(x) to a require 1" + "0" * 40 + " > 2 }",
    "data a.x csv \"p\" mock \"m\" { a: int, b: str, }",
    "policy p { allow * on any, a.*, *.b to any, * except f, g deny any }",
    "never any reaches *, any, a",
    "goal a receives",
]

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHEAP = settings(SETTINGS, max_examples=600)  # a few milliseconds per example


def strict(value):
    """`value` as plain nested tuples, spans and scalar types included: IR `==` ignores spans."""
    if isinstance(value, Span):
        return ("Span", tuple(value))
    if dataclasses.is_dataclass(value):
        return (type(value).__name__, tuple((f.name, strict(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, (tuple, list)):
        return tuple(strict(v) for v in value)
    if isinstance(value, frozenset):
        return ("frozenset", tuple(sorted(value)))
    if isinstance(value, enum.Enum):
        return value
    return (type(value).__name__, value)


def _items(parse_item, builder, chunks) -> list:
    """What one parser makes of each item: its IR or its `ParseError` (the token and the exact
    set of expected terminals, which the wording of a syntax error groups), and the errors the
    builder reported on the way."""
    out = []
    for chunk in chunks:
        builder.clause_errors = errors = []
        try:
            value = strict(parse_item(chunk))
        except lalr.ParseError as exc:
            value = ("ParseError", exc.token, sorted(exc.expected))
        except RecursionError:
            value = "RecursionError"
        out.append((value, strict(errors)))
    return out


def assert_same(text: str, file: str = "t.dsc") -> parser.ParseResult:
    fast = parser.parse(text, file)
    reference = reference_parser.parse(text, file)
    assert fast.program == reference.program
    assert [(d.code, d.span) for d in fast.diagnostics] == [(d.code, d.span) for d in reference.diagnostics]
    assert strict(fast) == strict(reference)  # spans, wording, related locations, broken names
    # Item by item, the parse errors as the parsers raise them, before they are worded.
    chunks = split_items(tokenize(text, file)[0])
    driver, fast_builder = parser._parser()
    reference_item, reference_builder = reference_parser._reference()
    assert _items(driver.parse, fast_builder, chunks) == _items(reference_item, reference_builder, chunks)
    return fast


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_program(name):
    assert_same(TEXTS[name], name)


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_edge_cases(text):
    assert_same(text)


def test_the_programs_exercise_both_outcomes():
    """The corpus has items that parse and items that do not: both paths of the comparison run."""
    results = [parser.parse(t) for t in SEEDS]
    assert sum(len(r.program.decls) for r in results) > 500
    assert sum(d.code == "DSC001" for r in results for d in r.diagnostics) >= 20


def test_the_reference_does_not_run_the_driver(monkeypatch):
    def refuse(self, tokens):
        raise AssertionError("the reference parser ran lalr.Driver")

    reference_parser.parse(TEXTS["examples/fraud/fraud.dsc"])  # built before the driver is refused
    monkeypatch.setattr(lalr.Driver, "parse", refuse)
    result = reference_parser.parse(TEXTS["examples/fraud/fraud.dsc"])
    assert result.program.contracts and not result.diagnostics


# ---------------------------------------------------------------- mutations

VOCABULARY = sorted(
    {*KEYWORDS, *PUNCTUATION, "a", "b", "x", "f", "result", "rows", "bank1", "0", "1.5", "2e3", '"s"', '""', "#c\n", "\n"}
)


def _pieces(text: str) -> tuple[list[list[str]], str]:
    """[gap, token] pairs of `text` (the gap holds blanks and comments) and the text after the last token."""
    tokens, _, _ = tokenize(text, "t")
    pieces, at = [], 0
    for tok in tokens:
        pieces.append([text[at : tok.start_pos], text[tok.start_pos : tok.end_pos]])
        at = tok.end_pos
    return pieces, text[at:]


@st.composite
def mutated(draw) -> str:
    """A program with a few tokens deleted, duplicated, swapped or inserted, or characters inserted."""
    pieces, tail = _pieces(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "chars"]))
        i = draw(st.integers(0, max(0, len(pieces) - 1)))
        if op == "insert" or not pieces:
            pieces.insert(i, [draw(st.sampled_from([" ", "\n", ""])), draw(st.sampled_from(VOCABULARY))])
        elif op == "delete":
            del pieces[i]
        elif op == "duplicate":
            pieces.insert(i + 1, [" ", pieces[i][1]])
        elif op == "swap":
            j = draw(st.integers(0, len(pieces) - 1))
            pieces[i][1], pieces[j][1] = pieces[j][1], pieces[i][1]
        else:
            gap, tok = pieces[i]
            at = draw(st.integers(0, len(tok)))
            tok = tok[:at] + draw(st.text(st.sampled_from('x1.(){}[]"#=<,:-\n \t\x00é'), min_size=1, max_size=3)) + tok[at:]
            pieces[i] = [gap, tok]
    return "".join(g + t for g, t in pieces) + tail


@CHEAP
@given(mutated())
def test_mutated_programs(text):
    assert_same(text)


@CHEAP
@given(st.lists(st.sampled_from(VOCABULARY), max_size=60).map(" ".join))
def test_token_soup(text):
    assert_same(text)


# ---------------------------------------------------------------- valid expressions

ATOMS = st.sampled_from(["x", "b", "result", "any", "data", "1", "2.5", "1e3", '"s"', "true", "false"])


@st.composite
def expressions(draw, depth: int = 2) -> str:
    """An expression of the grammar: prefixed operands joined by operators, any nesting."""
    parts = []
    for k in range(draw(st.integers(1, 3))):
        if k:
            parts.append(draw(st.sampled_from(["or", "and", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%"])))
        parts += draw(st.lists(st.sampled_from(["not", "-", "+"]), max_size=2))
        kind = draw(st.integers(0, 6 if depth else 0))
        if kind == 0:
            operand = draw(ATOMS)
        elif kind == 1:
            operand = f"({draw(expressions(depth - 1))})"
        elif kind == 2:
            args = draw(st.lists(st.one_of(expressions(depth - 1), expressions(depth - 1).map("k = {}".format)), max_size=3))
            operand = f"{draw(st.sampled_from(['f', 'rows', 'any', 'data', 'to']))}({', '.join(args)})"
        elif kind == 3:
            operand = f"[{', '.join(draw(st.lists(expressions(depth - 1), max_size=3)))}]"
        elif kind == 4:
            operand = f"(for v in {draw(expressions(depth - 1))}: {draw(expressions(depth - 1))})"
        else:
            operand = draw(ATOMS)
        for _ in range(draw(st.integers(0, 2))):
            operand += "." + draw(st.sampled_from(["train", "test", "data", "to", "x"]))
        parts.append(operand)
    return " ".join(parts)


@SETTINGS
@given(st.lists(expressions(), min_size=1, max_size=3))
def test_expressions(conditions):
    text = "contract c { by a compute f(a.x) to a " + " ".join(f"require {c}" for c in conditions) + " }"
    assert_same(text)
