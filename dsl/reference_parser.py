"""The reference parser: the oracle the tests hold the fast parser to. Not used by the product.

It differs from `parser.parse` in one thing only, the LALR parser that runs: this one is
Lark's own (`Lark(parser="lalr")`, with its callback chain: `?rule` inlining, `_rule`
splicing, aliases, position propagation), where `parser.parse` runs `lalr.Driver`, the
re-keyed table loop with folded unit reductions and inline fast reductions. Everything else is
shared, so that a difference between the two can only come from the driver:

* the grammar, the tokens (`tokens.tokenize`) and the item splitting (`tokens.split_items`),
  through `parser._parse_items`;
* the IR: Lark calls the same `parser._Builder` methods as its reduce callbacks;
* the diagnostics: a syntax error becomes the same `lalr.ParseError` (the token, or None at the
  end of the item, and the terminals that can really come next, from Lark's
  `InteractiveParser.accepts`), which `parser._syntax_error` words for both.

`tests/parser/test_differential.py` parses every program it has, and mutations of them, both
ways and requires identical IR (spans included) and identical diagnostics.
"""

from __future__ import annotations

import functools

from lark import Transformer
from lark.exceptions import UnexpectedToken

from .lalr import ParseError
from .parse_table import build_lark
from .parser import ParseResult, _Builder, _parse_items


class _Callbacks(Transformer):
    """Lark's reduce callbacks: the IR builder's methods, one per rule or alias.

    Lark calls a callback with the list of a rule's children; the builder's `_leaf` methods
    take their one token, so they are wrapped. Rules the builder has no method for (`start`,
    `item`, and Lark's own `_rule`s for repetitions) are left to Lark, which inlines or splices
    them before the builder sees them.
    """

    def __init__(self, builder: _Builder):
        super().__init__(visit_tokens=False)
        for name in dir(type(builder)):
            if name.startswith("_"):
                continue
            method = getattr(builder, name)
            if getattr(method, "leaf", False):
                setattr(self, name, functools.partial(_leaf, method))
            else:
                setattr(self, name, method)


def _leaf(method, children: list):
    (token,) = children
    return method(token)


@functools.cache
def _reference():
    builder = _Builder()
    lark = build_lark(transformer=_Callbacks(builder))

    def parse_item(tokens):
        try:
            return lark.parse(tokens)
        except UnexpectedToken as exc:
            token = None if exc.token.type == "$END" else exc.token
            raise ParseError(token, frozenset(exc.interactive_parser.accepts())) from None

    return parse_item, builder


def parse(text: str, file: str = "<input>") -> ParseResult:
    """Parse .dsc text with Lark's own LALR parser into the same `ParseResult` as `parser.parse`."""
    parse_item, builder = _reference()
    return _parse_items(text, file, builder, parse_item)
