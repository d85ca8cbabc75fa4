"""Hypothesis properties of the formatter.

Valid programs are generated from the grammar with a random layout: random whitespace,
newlines and comments between tokens, redundant parentheses, soft keywords used as names.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datastation.dsl.formatter import REFUSED, format_source
from datastation.dsl.parser import parse
from datastation.dsl.tokens import escape

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = st.sampled_from(["a", "b", "bank1", "x_2", "result", "Train", "_t", "fo", "anyone"])
# Words that read as names in the positions below although they are keywords elsewhere.
CALL_NAMES = st.one_of(NAMES, st.sampled_from(["any", "data", "to", "on", "keep", "by", "use", "never", "mock"]))
KWARG_NAMES = st.one_of(NAMES, st.sampled_from(["data", "to", "for", "and", "true", "require", "in"]))
ATTR_NAMES = st.one_of(NAMES, st.sampled_from(["data", "to", "test", "true", "for", "not"]))
COMMENT_TEXT = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=12)

# Binding strength, loosest first (mirrors the grammar).
FORALL, OR, AND, NOT, CMP, SUM, PRODUCT, NEG, ATOM = range(9)
BINOPS = {"or": OR, "and": AND, "==": CMP, "!=": CMP, "<": CMP, "<=": CMP, ">": CMP, ">=": CMP,
          "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "%": PRODUCT}


@st.composite
def separators(draw) -> str:
    """What goes between two tokens: whitespace, newlines or a comment (which ends a line)."""
    kind = draw(st.integers(0, 9))
    if kind <= 5:
        return draw(st.sampled_from([" ", "  ", "\n", "\n\n", "\t", " \r\n", "\n\n\n   "]))
    text = draw(COMMENT_TEXT)
    if kind <= 7:
        return f" #{text}\n"
    return f"\n#{text}\n\n" if kind == 8 else f"\n   #{text}\n"


def _paren(draw, child, need: bool) -> list[str]:
    tokens, _ = child
    if need or draw(st.integers(0, 7)) == 0:
        return ["(", *tokens, ")"]
    return tokens


@st.composite
def numbers(draw) -> str:
    return draw(
        st.one_of(
            st.integers(0, 10**12).map(str),
            st.floats(0, 1e30, allow_nan=False, allow_infinity=False).map(repr),
            st.sampled_from(["007", "1.50", "2E3", "1e999", "0.0", "3e-7", "10.0"]),
        )
    )


@st.composite
def strings(draw) -> str:
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(['"\\q"', '"a\\"b"', '""', '"\\0\\t"']))
    return escape(draw(st.text(max_size=10)))


@st.composite
def exprs(draw, depth: int = 3):
    """(tokens, binding strength) of a random expression."""
    kind = draw(st.integers(0, 10 if depth > 0 else 3))
    if kind == 0:
        return [draw(NAMES)], ATOM
    if kind == 1:
        return [draw(numbers())], ATOM
    if kind == 2:
        return [draw(strings())], ATOM
    if kind == 3:
        return [draw(st.sampled_from(["true", "false"]))], ATOM
    sub = exprs(depth - 1)
    if kind in (4, 5, 6):
        op = draw(st.sampled_from(sorted(BINOPS)))
        p = BINOPS[op]
        left, right = draw(sub), draw(sub)
        return [*_paren(draw, left, left[1] <= p), op, *_paren(draw, right, right[1] <= p)], p
    if kind == 7:
        op = draw(st.sampled_from(["not", "-"]))
        operand = draw(sub)
        p = NOT if op == "not" else NEG
        return [op, *_paren(draw, operand, operand[1] < p)], p
    if kind == 8:
        return call_tokens(draw, sub), ATOM
    if kind == 9:
        items = draw(st.lists(sub, max_size=3))
        out = ["["]
        for i, (tokens, _) in enumerate(items):
            out += ([","] if i else []) + tokens
        return out + ([","] if items and draw(st.booleans()) else []) + ["]"], ATOM
    if draw(st.booleans()):
        base = draw(sub)
        return [*_paren(draw, base, base[1] < ATOM), ".", draw(ATTR_NAMES)], ATOM
    iterable, body = draw(sub), draw(sub)
    return ["for", draw(NAMES), "in", *_paren(draw, iterable, iterable[1] < OR), ":", *body[0]], FORALL


def call_tokens(draw, sub) -> list[str]:
    # `name(` and `name =` are single tokens: a comment between them would un-soften a keyword.
    out = [draw(CALL_NAMES) + draw(st.sampled_from(["(", " ("]))]
    args = [tokens for tokens, _ in draw(st.lists(sub, max_size=2))]
    args += [[draw(KWARG_NAMES) + " =", *tokens] for tokens, _ in draw(st.lists(sub, max_size=2))]
    for i, tokens in enumerate(args):
        out += ([","] if i else []) + tokens
    return out + ([","] if args and draw(st.booleans()) else []) + [")"]


def _commas(items: list[list[str]]) -> list[str]:
    out: list[str] = []
    for i, tokens in enumerate(items):
        out += ([","] if i else []) + tokens
    return out


DPATTERNS = st.one_of(
    st.just(["any"]),
    st.tuples(st.one_of(NAMES, st.just("*")), st.one_of(NAMES, st.just("*"))).map(lambda t: [t[0], ".", t[1]]),
)
APATTERNS = st.one_of(NAMES, st.sampled_from(["*", "any"])).map(lambda s: [s])


@st.composite
def declarations(draw) -> list[str]:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return ["use", draw(strings())]
    if kind == 1:
        return ["agent", draw(NAMES)] + ([draw(strings())] if draw(st.booleans()) else [])
    if kind == 2:
        out = ["data", draw(NAMES), ".", draw(NAMES), draw(st.sampled_from(["csv", "parquet", "json"])), draw(strings())]
        if draw(st.booleans()):
            out += ["mock", draw(strings())]
        if draw(st.booleans()):
            cols = [[draw(NAMES), ":", draw(NAMES)] for _ in range(draw(st.integers(0, 4)))]
            out += ["{", *_commas(cols), *([","] if cols and draw(st.booleans()) else []), "}"]
        return out
    if kind == 3:
        out = ["policy", draw(NAMES), "{"]
        for _ in range(draw(st.integers(0, 3))):
            out += [draw(st.sampled_from(["allow", "deny"])), draw(st.one_of(NAMES, st.sampled_from(["*", "any"])))]
            if draw(st.booleans()):
                out += ["on", *_commas(draw(st.lists(DPATTERNS, min_size=1, max_size=3)))]
            if draw(st.booleans()):
                out += ["to", *_commas(draw(st.lists(APATTERNS, min_size=1, max_size=3)))]
            if draw(st.booleans()):
                out += ["except", *_commas([[n] for n in draw(st.lists(NAMES, min_size=1, max_size=2))])]
        return out + ["}"]
    if kind == 4:
        return ["never", *draw(DPATTERNS), "reaches", *_commas(draw(st.lists(APATTERNS, min_size=1, max_size=3)))]
    if kind == 5:
        return ["goal", draw(NAMES), "receives", draw(NAMES)]
    clauses: list[list[str]] = []
    if draw(st.booleans()):
        clauses.append(["by", draw(NAMES)])
    computation = draw(st.integers(0, 2))
    if computation == 1:
        clauses.append(["compute", *call_tokens(draw, exprs(2))])
    elif computation == 2:
        clauses.append(["keep", draw(KWARG_NAMES) + " =", *call_tokens(draw, exprs(2))])
    if draw(st.booleans()):
        clauses.append(["to", *_commas([[n] for n in draw(st.lists(NAMES, min_size=1, max_size=3))])])
    for kw in ("require", "ensure"):
        clauses += [[kw, *tokens] for tokens, _ in draw(st.lists(exprs(), max_size=2))]
    clauses = draw(st.permutations(clauses))
    return ["contract", draw(NAMES), "{", *[t for c in clauses for t in c], "}"]


@st.composite
def programs(draw) -> str:
    tokens = [t for d in draw(st.lists(declarations(), max_size=5)) for t in d]
    parts = [draw(st.sampled_from(["", "\n", "#lead\n"]))]
    for tok in tokens:
        parts += [tok, draw(separators())]
    return "".join(parts)


def _comments(program) -> list[str]:
    return sorted(c.text for c in program.comments)


@SETTINGS
@given(programs())
def test_generated_programs_round_trip(source):
    parsed = parse(source)
    assert not [d for d in parsed.diagnostics if d.is_error], (source, parsed.diagnostics)
    out, diags = format_source(source)
    assert out is not None, [(d.code, d.message) for d in diags]
    again = parse(out)
    assert again.program == parsed.program
    assert _comments(again.program) == _comments(parsed.program)
    assert format_source(out)[0] == out


VOCABULARY = st.sampled_from(
    ["contract", "c", "{", "}", "by", "a", "compute", "f(", ")", "require", "and", "or", "not", "for", "x", "in",
     "[", "]", ":", "==", "1", "2.5", '"s"', '"', ",", ".", "=", "#", "\n", " ", "\x00", "é", "data", "csv", "policy",
     "allow", "deny", "on", "to", "*", "any", "never", "reaches", "goal", "receives", "keep", "-", "(", "\\", "\r"]
)


@SETTINGS
@given(st.one_of(st.text(), st.lists(VOCABULARY, max_size=60).map(" ".join), st.lists(VOCABULARY, max_size=60).map("".join)))
def test_arbitrary_text_never_raises(text):
    out, diags = format_source(text, "fuzz.dsc")
    if out is None:
        assert diags and any(d.is_error for d in diags)
    else:
        assert format_source(out, "fuzz.dsc")[0] == out


@SETTINGS
@given(programs(), st.integers(0, 10**6), st.sampled_from(["", "(", "#", '"', "\n", "}", "and", "\x00"]))
def test_mutated_programs_never_raise(source, where, insert):
    at = where % (len(source) + 1)
    mutated = source[:at] + insert + source[at + 1 :]
    out, diags = format_source(mutated)
    assert out is not None or any(d.is_error for d in diags)
    if out is not None:
        assert format_source(out)[0] == out


def test_huge_inputs_do_not_raise():
    for text in (
        "agent " + "a" * 200_000,
        "contract c { require " + " and ".join(["x"] * 3000) + " }",
        "contract c { require " + "(" * 200 + "x" + ")" * 200 + " }",
        "contract c { require " + "not " * 3000 + "x }",
        "contract c { require " + "- " * 3000 + "x }",
        "# " + "é" * 100_000,
    ):
        out, diags = format_source(text)
        assert out is not None or {d.code for d in diags} <= {"DSC001", "DSC004", REFUSED}
