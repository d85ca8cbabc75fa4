"""A function's source text (hashed into every contract identity that calls it) is exactly
`ast.get_source_segment`'s, though `read_functions` splits each module into lines only once."""

from __future__ import annotations

import ast

from hypothesis import given, settings
from hypothesis import strategies as st

from datastation.dsl import signatures
from datastation.dsl.signatures import read_functions, stdlib_functions


def _expected(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {n.name: ast.get_source_segment(source, n) for n in tree.body
            if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}


def test_every_builtin_s_source_is_its_segment():
    for name, sig in stdlib_functions().items():
        assert sig.source == _expected(sig.path.read_text(encoding="utf-8"))[name], name


def test_line_endings_form_feeds_and_wide_characters():
    source = ("x = 1\r\n\fdef f(a: 'é€😀' = 1,\r    b=2):\r\n    return 'x\\f'\n\n"
              "def g(): pass\rdef h(\n  x,\n): return x\n")
    got = {name: sig.source for name, sig in read_functions(source).items()}
    assert got == _expected(source) and set(got) == {"f", "g", "h"}


@settings(max_examples=400)
@given(st.text(alphabet="ab\r\n\f\x0bé€😀 ", max_size=60))
def test_lines_split_as_python_s_parser_splits_them(text):
    assert signatures._LINES.findall(text) == ast._splitlines_no_ff(text)
