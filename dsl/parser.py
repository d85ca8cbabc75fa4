"""Parse .dsc text into the IR.

`tokens.tokenize` lexes the whole text and `tokens.split_items` cuts it before every top-level
item. `parse_table.load` gives the LALR table Lark compiled from `grammar.lark` (generated
once, stored as plain data), and `lalr.Driver` runs that table over each item's tokens with the methods of `_Builder` as its
reduce actions: no parse tree is ever built, each grammar rule directly produces an IR node.
Each item is parsed on its own, so one syntax error loses only the item it is in and the rest
is still checked.

`reference_parser` runs the same builder under Lark's own LALR parser; it is the oracle the
tests compare this parser with, not part of the product.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from functools import partial
import gc
import threading
from dataclasses import dataclass, field
from pathlib import Path

from . import codes, ir, parse_table
from .diagnostics import Diagnostic, Related, Span, error
from .lalr import Driver, ParseError
from .tokens import TOKEN_WORDS, Token, describe, split_items, token_span, tokenize, unescape

_new_span = partial(tuple.__new__, Span)


def _positional(cls):
    """A positional constructor for a frozen slotted IR class (fields in declaration order, all
    given). It stores each field through its slot, exactly as the generated keyword-only
    `__init__` does with `object.__setattr__`, at less than half the cost: the parser builds
    about half a million nodes for a 100k-line file."""
    names = [f.name for f in dataclasses.fields(cls)]
    setters = [getattr(cls, n).__set__ for n in names]
    new = object.__new__
    if len(names) == 2:
        s0, s1 = setters

        def make(a, b):
            o = new(cls)
            s0(o, a)
            s1(o, b)
            return o
    elif len(names) == 3:
        s0, s1, s2 = setters

        def make(a, b, c):
            o = new(cls)
            s0(o, a)
            s1(o, b)
            s2(o, c)
            return o
    else:
        s0, s1, s2, s3 = setters

        def make(a, b, c, d):
            o = new(cls)
            s0(o, a)
            s1(o, b)
            s2(o, c)
            s3(o, d)
            return o
    return make


_Ident, _Name, _Str, _Num = (_positional(c) for c in (ir.Ident, ir.Name, ir.Str, ir.Num))  # (value, span)
_Attribute, _Keyword, _ListExpr, _UnaryOp = (_positional(c) for c in (ir.Attribute, ir.Keyword, ir.ListExpr, ir.UnaryOp))
_BinOp, _Call = _positional(ir.BinOp), _positional(ir.Call)


def _leaf(method):
    """Mark a builder method that takes a single token rather than a list of children."""
    method.leaf = True
    return method


class _Builder:
    """Grammar rule → IR node: one method per rule or alias, called with the rule's children
    (a `_leaf` method with its single token). `clause_errors`, the list where the methods
    report what they find wrong, is set for each parse (under `_LOCK`)."""

    clause_errors: list[Diagnostic]

    # -- helpers (tokens carry their spans: `tok[2]`)
    @staticmethod
    def _tspan(tok: Token) -> Span:
        return tok[2]

    @staticmethod
    def _span(first, last) -> Span:
        """From the start of `first` to the end of `last` (tokens or IR nodes)."""
        a = first[2] if type(first) is Token else first.span
        b = last[2] if type(last) is Token else last.span
        return _new_span((a[0], a[1], a[2], b[3], b[4], a[5], b[6]))

    @staticmethod
    def _ident(tok: Token) -> ir.Ident:
        return _Ident(tok[1], tok[2])

    @staticmethod
    def _str(tok: Token) -> ir.Str:
        return _Str(unescape(tok[1]), tok[2])

    # -- declarations
    def use(self, c):
        return ir.Use(path=self._str(c[1]), span=self._span(c[0], c[1]))

    def agent(self, c):
        display = self._str(c[2]) if len(c) > 2 else None
        return ir.Agent(name=self._ident(c[1]), display=display, span=self._span(c[0], c[-1]))

    def data(self, c):
        mock = schema = None
        last = c[5]
        for extra in c[6:]:
            if isinstance(extra, ir.Str):
                mock = extra
            else:
                schema, last = extra[0], extra[1]
                continue
            last = extra
        return ir.Data(
            owner=self._ident(c[1]),
            name=self._ident(c[3]),
            format=self._ident(c[4]),
            path=self._str(c[5]),
            mock=mock,
            schema=schema,
            span=self._span(c[0], last),
        )

    def mock(self, c):
        return self._str(c[1])

    def schema(self, c):
        return tuple(x for x in c if isinstance(x, ir.Column)), c[-1]

    def column(self, c):
        return ir.Column(name=self._ident(c[0]), type=self._ident(c[2]), span=self._span(c[0], c[2]))

    def policy(self, c):
        rules = tuple(x for x in c[3:-1])
        return ir.Policy(owner=self._ident(c[1]), rules=rules, span=self._span(c[0], c[-1]))

    def rule(self, c):
        effect_tok, fpat = c[0], c[1]
        data, to, except_ = (), (), ()
        for part in c[2:]:
            kind, items = part
            if kind == "on":
                data = items
            elif kind == "to":
                to = items
            else:
                except_ = items
        last = c[-1][1][-1] if len(c) > 2 else fpat
        return ir.Rule(
            effect=effect_tok.value,
            function=fpat,
            data=data,
            to=to,
            except_=except_,
            span=self._span(effect_tok, last),
        )

    def on(self, c):
        return "on", tuple(c[1::2])

    def to(self, c):
        return "to", tuple(c[1::2])

    def except_(self, c):
        return "except", tuple(self._ident(t) for t in c[1::2])

    def fpattern(self, c):
        return ir.Pattern(value="*" if c[0].type == "STAR" else c[0].value, span=self._tspan(c[0]))

    apattern = fpattern

    def dpattern(self, c):
        if len(c) == 1:  # `any`
            return ir.DataPattern(owner="*", name="*", span=self._tspan(c[0]))
        return ir.DataPattern(owner=c[0].value, name=c[2].value, span=self._span(c[0], c[2]))

    def dpart(self, c):
        return c[0]

    def never(self, c):
        agents = tuple(c[3::2])
        return ir.Never(data=c[1], agents=agents, span=self._span(c[0], c[-1]))

    def goal(self, c):
        return ir.Goal(agent=self._ident(c[1]), contract=self._ident(c[3]), span=self._span(c[0], c[3]))

    def contract(self, c):
        # Clauses arrive flat: a keyword token, then its value(s). Repeated single clauses are
        # reported (DSC007) in order; the IR keeps the first.
        by = call = keep_as = None
        requires, ensures, to = [], [], []
        duplicates = []
        i, last = 3, len(c) - 1
        while i < last:
            kw = c[i]
            key = kw[0]
            if key == "REQUIRE":
                requires.append(c[i + 1])
                i += 2
            elif key == "ENSURE":
                ensures.append(c[i + 1])
                i += 2
            elif key == "TO":
                if to:
                    duplicates.append(kw)
                i += 1
                while True:
                    t = c[i]
                    to.append(_Ident(t[1], t[2]))
                    if c[i + 1][0] != "COMMA":  # a keyword token or the closing brace follows
                        break
                    i += 2
                i += 1
            elif key == "BY":
                if by is not None:
                    duplicates.append(kw)
                else:
                    by = self._ident(c[i + 1])
                i += 2
            elif key == "COMPUTE":
                if call is not None:
                    duplicates.append(kw)
                else:
                    call = c[i + 1]
                i += 2
            else:  # KEEP NAME = call
                if call is not None:
                    duplicates.append(kw)
                else:
                    keep_as, call = self._ident(c[i + 1]), c[i + 3]
                i += 4
        node = ir.Contract(
            name=self._ident(c[1]),
            by=by,
            call=call,
            keep_as=keep_as,
            to=tuple(to),
            requires=tuple(requires),
            ensures=tuple(ensures),
            span=self._span(c[0], c[-1]),
        )
        for kw in duplicates:
            self.clause_errors.append(
                error(
                    codes.REPEATED_CLAUSE,
                    f"clause '{kw}' appears more than once in contract '{c[1]}'",
                    self._tspan(kw),
                    help="a contract has one 'by', one 'compute' or 'keep', and one 'to' list; "
                    "'require' and 'ensure' may repeat",
                )
            )
        return node

    # -- expressions
    def forall(self, c):
        return ir.ForAll(var=self._ident(c[1]), iterable=c[3], body=c[5], span=self._span(c[0], c[5]))

    def opseq(self, c):
        if len(c) == 1:
            return c[0]
        return _climb(self, c)

    def attribute(self, c):
        value, _, attr = c
        a, b = value.span, attr[2]
        return _Attribute(value, _Ident(attr[1], b), _new_span((a[0], a[1], a[2], b[3], b[4], a[5], b[6])))

    def dotted(self, c):
        base, _, attr = c
        a, b = base[2], attr[2]
        return _Attribute(_Name(base[1], a), _Ident(attr[1], b), _new_span((a[0], a[1], a[2], b[3], b[4], a[5], b[6])))

    # Leaves take their token itself (the driver passes it without a list).
    @_leaf
    def name(self, tok):
        return _Name(tok[1], tok[2])

    @_leaf
    def number(self, tok):
        text = tok[1]
        if "." in text or "e" in text or "E" in text:
            value = float(text)
        elif len(text) > 30:  # beyond any count or threshold; Python also caps int() at 4300 digits
            self.clause_errors.append(
                error(codes.NUMBER_TOO_LARGE, f"number too large ({len(text)} digits)", tok[2],
                      help="write it in scientific notation, e.g. 1e30, or use a smaller number")
            )
            value = float("inf")
        else:
            value = int(text)
        return _Num(value, tok[2])

    @_leaf
    def string(self, tok):
        return _Str(unescape(tok[1]), tok[2])

    @_leaf
    def true(self, tok):
        return ir.Bool(value=True, span=tok[2])

    @_leaf
    def false(self, tok):
        return ir.Bool(value=False, span=tok[2])

    def paren(self, c):
        return c[1]

    def call(self, c):
        # c = [NAME, "(", arg, ",", arg, ..., [","], ")"]: the arguments are every other child.
        name, close = c[0], c[-1]
        a, b = name[2], close[2]
        span = _new_span((a[0], a[1], a[2], b[3], b[4], a[5], b[6]))
        given = c[2:-1:2]
        kwargs = [x for x in given if type(x) is _KEYWORD]
        if not kwargs:
            return _Call(_Ident(name[1], a), tuple(given), (), span)
        args = []
        after_keyword = False
        for x in given:
            if type(x) is _KEYWORD:
                after_keyword = True
                continue
            if after_keyword:
                self.clause_errors.append(
                    error(
                        codes.POSITIONAL_AFTER_KEYWORD,
                        "positional argument after a keyword argument",
                        x.span,
                        help="put positional arguments first, or name this one",
                    )
                )
                continue  # left out of the IR: binding it to a parameter would only add errors
            args.append(x)
        return _Call(_Ident(name[1], a), tuple(args), tuple(kwargs), span)

    def kwarg(self, c):
        name, value = c[0], c[2]
        a, b = name[2], value.span
        return _Keyword(_Ident(name[1], a), value, _new_span((a[0], a[1], a[2], b[3], b[4], a[5], b[6])))

    def list(self, c):
        # c = ["[", item, ",", item, ..., [","], "]"]
        a, b = c[0][2], c[-1][2]
        return _ListExpr(tuple(c[1:-1:2]), _new_span((a[0], a[1], a[2], b[3], b[4], a[5], b[6])))


_KEYWORD = ir.Keyword


_LOCK = threading.Lock()


@contextlib.contextmanager
def without_gc():
    """Pause the cyclic garbage collector: parsing allocates millions of acyclic objects, and
    the collector's repeated scans of them would otherwise cost more than the parse itself.

    On the way out the surviving objects are frozen (moved out of the collector's
    generations): the IR has no reference cycles, so scanning it could never free anything,
    and without the freeze the first collection after the parse would scan all of it.
    Frozen objects are still freed by reference counting when the IR is dropped.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()

# Binding powers for precedence climbing over `opseq` (higher binds tighter): the IR's table.
_BINARY = ir.BINARY_PRECEDENCE
_NOT_POWER, _NEG_POWER, _COMPARE_POWER = ir.P_NOT, ir.P_NEGATE, ir.P_COMPARE


def _climb(b: _Builder, items: list):
    """Group a flat `[prefix* operand (op prefix* operand)*]` sequence by precedence.

    `not` binds looser than comparisons (`not a == b` is `not (a == b)`), unary minus tighter
    than `*`; binary operators are left-associative; comparisons do not chain.
    """
    pos = 0
    n = len(items)

    def operand(min_power: int):
        nonlocal pos
        item = items[pos]
        pos += 1
        if type(item) is Token:  # prefix operator
            if item.type == "NOT":
                inner = expression(_NOT_POWER)
                return _UnaryOp("not", inner, b._span(item, inner))
            inner = expression(_NEG_POWER)
            if item.value == "+":
                return inner
            return _UnaryOp("-", inner, b._span(item, inner))
        return item

    def expression(min_power: int):
        nonlocal pos
        left = operand(min_power)
        compared = False
        last_compared = None
        while pos < n:
            op = items[pos]
            power = _BINARY[op[1]]
            if power < min_power:
                break
            pos += 1
            right = items[pos]
            if type(right) is not Token and (pos + 1 == n or _BINARY[items[pos + 1][1]] <= power):
                pos += 1  # a plain operand followed by a looser operator: no need to recurse
            else:
                right = expression(power + 1)
            if power == _COMPARE_POWER:
                if compared:
                    b.clause_errors.append(
                        error(codes.SYNTAX_ERROR, "comparisons cannot be chained", b._tspan(op),
                              help="combine two comparisons with `and`: a < b and b < c")
                    )
                    # Read it as meant (`a < b and b < c`) so that no type error follows the syntax error.
                    middle = last_compared
                    last_compared = right
                    cmp = _BinOp(op.value, middle, right, b._span(middle, right))
                    left = _BinOp("and", left, cmp, b._span(left, right))
                    continue
                compared = True
                last_compared = right
            a, s = left.span, right.span
            left = _BinOp(op[1], left, right, _new_span((a[0], a[1], a[2], s[3], s[4], a[5], s[6])))
        return left

    return expression(0)


@functools.cache
def _parser() -> tuple[Driver, _Builder]:
    """The driver over the grammar's LALR table (`parse_table.load`), built once."""
    builder = _Builder()
    return Driver(parse_table.load(), builder), builder


@dataclass(frozen=True, kw_only=True, slots=True)
class ParseResult:
    """The IR of every item that parsed, and the diagnostics of those that did not.

    `broken` names the declarations whose item failed to parse, so that later checks do not
    report them as undefined.
    """

    program: ir.Program
    diagnostics: tuple[Diagnostic, ...]
    broken: frozenset[str] = field(default=frozenset())


# Groups of terminals named together in syntax errors ("an expression" rather than nine tokens).
_GROUPS = (
    ({"NAME", "NUMBER", "STRING", "LPAR"}, {"NAME", "NUMBER", "STRING", "LPAR", "LBRACK", "ADD_OP", "TRUE", "FALSE",
                                            "NOT", "FOR"}, "an expression"),
    ({"COMP_OP", "AND", "OR"}, {"COMP_OP", "AND", "OR", "ADD_OP", "MUL_OP", "STAR", "DOT"}, "an operator"),
    ({"BY", "COMPUTE", "KEEP", "TO", "REQUIRE", "ENSURE"}, {"BY", "COMPUTE", "KEEP", "TO", "REQUIRE", "ENSURE"},
     "a clause (by, compute, keep, to, require, ensure)"),
    ({"USE", "AGENT", "DATA", "POLICY", "CONTRACT", "NEVER", "GOAL"},
     {"USE", "AGENT", "DATA", "POLICY", "CONTRACT", "NEVER", "GOAL"},
     "a declaration (use, agent, data, policy, contract, never, goal)"),
    ({"ALLOW", "DENY"}, {"ALLOW", "DENY"}, "a rule (allow or deny)"),
)


def _expected_words(expected) -> str:
    expected = set(expected)
    groups = []
    for trigger, members, words in _GROUPS:
        if trigger <= expected:
            expected -= members
            groups.append(words)
    words = sorted({TOKEN_WORDS.get(t, t) for t in expected}) + groups
    if not words:
        return "nothing more"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _syntax_error(exc: ParseError, chunk: list[Token], next_tok: Token | None, file: str) -> Diagnostic:
    tok = exc.token
    expected = exc.expected
    if tok is None:
        # The item ended early: point just after its last token.
        last = chunk[-1]
        where = next_tok if next_tok is not None else last
        span = token_span(where) if next_tok is not None else Span(
            file=file,
            line=last.end_line,
            column=last.end_column,
            end_line=last.end_line,
            end_column=last.end_column + 1,
            start=last.end_pos,
            end=last.end_pos + 1,
        )
        found = describe(next_tok) if next_tok is not None else "the end of the file"
        opened = _unclosed_brace(chunk) if "RBRACE" in expected else None
        return error(
            codes.SYNTAX_ERROR,
            f"expected {_expected_words(expected)}, found {found}",
            span,
            help=_hint(expected),
            related=[Related(message="this '{' is not closed", span=token_span(opened))] if opened else (),
        )
    return error(
        codes.SYNTAX_ERROR,
        f"expected {_expected_words(expected)}, found {describe(tok)}",
        token_span(tok),
        help=_hint(expected, tok),
    )


def _unclosed_brace(chunk: list[Token]) -> Token | None:
    """The innermost '{' of an item that is still open at its end."""
    opened: list[Token] = []
    for tok in chunk:
        if tok.type == "LBRACE":
            opened.append(tok)
        elif tok.type == "RBRACE" and opened:
            opened.pop()
    return opened[-1] if opened else None


def _hint(expected, tok: Token | None = None) -> str | None:
    if tok is not None and tok.type == "EQUAL" and "COMP_OP" in expected:
        return "to compare, write '=='"
    if tok is not None and tok.type in ("AND", "OR") and "RBRACE" in expected:
        return None
    if "RBRACE" in expected and (tok is None or tok.type != "RBRACE"):
        return "is a '}' missing?"
    if tok is not None and tok.type not in ("NAME",) and "NAME" in expected and tok.type.isupper() and tok.value.isidentifier():
        return f"'{tok.value}' is a keyword and cannot be used as a name here"
    return None


def _declared_name(chunk: list[Token]) -> str | None:
    """The name an unparsable item tried to declare, if it got that far."""
    if len(chunk) >= 2 and chunk[1].type == "NAME" and chunk[0].type in ("AGENT", "CONTRACT", "POLICY"):
        return chunk[1].value
    if len(chunk) >= 4 and chunk[0].type == "DATA" and chunk[1].type == "NAME" and chunk[3].type == "NAME":
        return f"{chunk[1].value}.{chunk[3].value}"
    return None


def parse(text: str, file: str = "<input>") -> ParseResult:
    """Parse .dsc source text. Never raises for bad input: problems come back as diagnostics."""
    driver, builder = _parser()
    return _parse_items(text, file, builder, driver.parse)


def _parse_items(text: str, file: str, builder: _Builder, parse_item) -> ParseResult:
    """Tokenize `text`, cut it into items and parse each with `parse_item(tokens)`, which returns
    the item's IR (built by `builder`) or raises `lalr.ParseError`. Shared with the reference
    parser, so that the two differ only in the LALR parser that runs."""
    decls: list = []
    broken: set[str] = set()
    with _LOCK, without_gc():
        tokens, comments, diags = tokenize(text, file)
        chunks = split_items(tokens)
        builder.clause_errors = diags
        for i, chunk in enumerate(chunks):
            try:
                decls.append(parse_item(chunk))
            except ParseError as exc:
                next_tok = chunks[i + 1][0] if i + 1 < len(chunks) else None
                diags.append(_syntax_error(exc, chunk, next_tok, file))
                name = _declared_name(chunk)
                if name:
                    broken.add(name)
                elif chunk[0].type == "USE":
                    broken.add("use")  # a keyword, so never a declared name: "some module is unknown"
            except RecursionError:
                diags.append(
                    error(codes.NESTED_TOO_DEEPLY, "this item is nested too deeply to read", token_span(chunk[0]),
                          help="split the expression into smaller parts")
                )
    program = ir.Program(
        decls=tuple(decls),
        comments=tuple(ir.Comment(text=c.text, span=c.span) for c in comments),
        file=file,
    )
    return ParseResult(program=program, diagnostics=tuple(diags), broken=frozenset(broken))


def read_source(path: str | Path) -> tuple[str | None, Diagnostic | None]:
    """Read a .dsc file as UTF-8 text, or explain why it cannot be read."""
    p = Path(path)
    span = Span(file=str(path))
    try:
        raw = p.read_bytes()
    except OSError as exc:
        return None, error(codes.UNREADABLE_FILE, f"cannot read file: {exc.strerror or exc}", span)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, error(
            codes.UNREADABLE_FILE,
            f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            Span(file=str(path), line=line, column=col, end_line=line, end_column=col + 1, start=exc.start, end=exc.start + 1),
            help="save the file as UTF-8",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def parse_file(path: str | Path) -> ParseResult:
    """Parse a .dsc file; unreadable files come back as a DSC005 diagnostic."""
    text, problem = read_source(path)
    if problem is not None:
        return ParseResult(program=ir.Program(decls=(), file=str(path)), diagnostics=(problem,))
    return parse(text, str(path))
