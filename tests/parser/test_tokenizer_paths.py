"""The two tokenizer paths of dsl/tokens.py agree.

`_tokenize_clean` lexes text without lexical problems in bulk (one `re.split`, C-level maps)
and gives up (None) on anything to report; `_tokenize_any` lexes one match at a time and
reports every problem. `tokenize` takes the first that answers. On every input both must give
the same tokens (type, text, span), the same comments and, since the bulk path only answers
when there is nothing to report, no diagnostics; and the bulk path must give up exactly when
the general one reports a problem.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datastation.dsl import tokens
from datastation.dsl.parser import read_source

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *(ROOT / "tests" / "corpus").glob("*/*.dsc"),
        *(ROOT / "examples").glob("**/*.dsc"),
        *(ROOT / "tests" / "formatter" / "golden").glob("*.dsc"),
    ]
)
TEXTS = {p.relative_to(ROOT).as_posix(): text for p in FILES if (text := read_source(p)[0]) is not None}

# Lines, columns, soft keywords, comments, repairs and bracket depth at their edges.
EDGES = [
    "",
    "\n",
    "\r\n",
    "agent a\r\nagent b\r\n",
    "\tagent\ta\t\"A\"\t# tab\n\t\tdata a.x csv \"x\"",
    "agent a\x00",
    "agent a\n\x00\n\x00x",
    'agent a "unterminated\nagent b "also',
    'agent a "\\',
    '"a\\"b" "\\q" "" "\\0"',
    "agent é",
    "x\u00a0y\u2028z\u0085w\x1cv\x0bu\x0ct",
    "١٢ 𝟘 ı K",
    "a.data data. data .to to = to == to( data ( any\n(",
    "to # comment\n= 1",
    "data # c\n.x",
    ". # c\ndata",
    "a. # c\ndata x",
    "a.\n# c\n# d\nto = to\n# e\n(",
    "1.5.2 1e 1e+ 1e+5 .5 5. 007",
    "# only\n#\n   # indented",
    "x" * 1000,
    "(" * 64,
    "(" * 65,
    ")" * 10 + "(" * 64,
    ")" * 10 + "(" * 65,
    "(" * 64 + ")" + "(",
    "(" * 64 + ")" + "((",
    "{[(" * 22 + ")]}" * 22,
]


def assert_agree(text: str, file: str = "t.dsc") -> None:
    general = tokens._tokenize_any(text, file)
    bulk = tokens._tokenize_clean(text, file)
    assert tokens.tokenize(text, file) == general
    if bulk is None:
        assert general[2], "the bulk path gave up on text without a lexical problem"
    else:
        assert not general[2], [(d.code, d.span) for d in general[2]]
        toks, comments, diags = bulk
        assert toks == general[0]  # named tuples: type, text and span (file, lines, columns, offsets)
        assert comments == general[1]
        assert diags == []


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_program(name):
    assert_agree(TEXTS[name], name)


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_edge_cases(text):
    assert_agree(text)


def test_the_bulk_path_reads_the_programs():
    """Both paths run on the corpus: the bulk path answers for most files, not one."""
    answered = [tokens._tokenize_clean(t, "t") is not None for t in TEXTS.values()]
    assert sum(answered) > 0.8 * len(answered)
    assert not all(answered)


def test_spans_point_at_the_token_text():
    text = 'agent a\r\n\tcontract c {  # note\n by a compute f(x, "s") }'
    toks, comments, _ = tokens.tokenize(text, "t")
    lines = text.split("\n")
    for tok in [*toks, *comments]:
        span = tok[2] if isinstance(tok, tokens.Token) else tok.span
        assert text[span.start : span.end].rstrip() == (tok[1] if isinstance(tok, tokens.Token) else tok.text)
        assert lines[span.line - 1][span.column - 1 : span.end_column - 1] == text[span.start : span.end]


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FRAGMENTS = st.sampled_from(
    [*tokens.KEYWORDS, *tokens.PUNCTUATION, "a", "x_1", "_", "1", "2.5", "1e3", "1e", '"s"', '"a\\"b"', '"\\', '"',
     '""', "#", "# c", " ", "  ", "\n", "\r\n", "\r", "\t", "\f", "\v", "\x00", "\u00a0", "\u2028", "\u0085", "\x1c",
     "é", "ß", "١", "𝟘", "\U0001F600", "\ufeff", "!", "&", "'", ";", "\\", "@"]
)


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_arbitrary_text(text):
    assert_agree(text)


@SETTINGS
@given(st.lists(FRAGMENTS, max_size=80), st.booleans())
def test_fragments(parts, spaced):
    assert_agree((" " if spaced else "").join(parts))


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from("([{)]}x"), st.integers(1, 40)), max_size=8))
def test_bracket_depth(runs):
    """Runs of brackets around the nesting limit, closers before openers included (the depth never goes below 0)."""
    assert_agree(" ".join(c * n for c, n in runs))
