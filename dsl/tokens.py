"""The .dsc tokenizer: regular-expression lexing, soft keywords and readable token names.

Lexing is separate from parsing so that the source can be cut into top-level items before
any of them is parsed: a syntax error then costs only the item it is in.

`tokenize` has two paths that give the same tokens: `_tokenize_clean` lexes text without
lexical problems in bulk (one `re.split`, no Python frame per token) and gives up on anything
to report; `_tokenize_any` lexes one match at a time and reports every problem.
tests/parser/test_tokenizer_paths.py holds them to each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, compress, repeat
from operator import add, itemgetter, sub
from typing import NamedTuple

from . import codes
from .diagnostics import Diagnostic, Span, error

KEYWORDS = {
    w: w.upper()
    for w in (
        "use agent data policy contract never goal mock allow deny on to except any reaches "
        "receives by compute keep require ensure for in or and not true false"
    ).split()
}

# Keywords that start a top-level item; the source is cut before each of them.
ITEM_KEYWORDS = frozenset({"USE", "AGENT", "DATA", "POLICY", "CONTRACT", "NEVER", "GOAL"})

# Keywords that read as a plain name when a call follows (`any(...)`, `data(...)`).
# Clause keywords followed by an expression (`require (a)`) and operators are not soft.
_SOFT_BEFORE_CALL = frozenset(
    "use agent data policy contract never goal mock allow deny on to except any reaches receives by keep".split()
)

PUNCTUATION = {
    "{": "LBRACE",
    "}": "RBRACE",
    "(": "LPAR",
    ")": "RPAR",
    "[": "LBRACK",
    "]": "RBRACK",
    ",": "COMMA",
    ".": "DOT",
    ":": "COLON",
    "=": "EQUAL",
    "*": "STAR",
    "+": "ADD_OP",
    "-": "ADD_OP",
    "/": "MUL_OP",
    "%": "MUL_OP",
    "==": "COMP_OP",
    "!=": "COMP_OP",
    "<": "COMP_OP",
    "<=": "COMP_OP",
    ">": "COMP_OP",
    ">=": "COMP_OP",
}

# How each terminal is named in a syntax error.
TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": 'a string such as "text"',
    "NUMBER": "a number",
    "COMP_OP": "a comparison (==, !=, <, <=, >, >=)",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'/' or '%'",
    "$END": "the end of the item",
    **{v: f"'{k}'" for k, v in PUNCTUATION.items() if v not in ("COMP_OP", "ADD_OP", "MUL_OP")},
    **{v: f"the keyword '{k}'" for k, v in KEYWORDS.items()},
}

MAX_NESTING = 64

# Leading blanks are consumed with each token, so most tokens take exactly one match.
_TOKEN_RE = re.compile(
    r"""
    [ \t\r\f\v]*
    (?:
     (?P<WORD>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<NL>\n)
    |(?P<OP>==|!=|<=|>=|[<>+\-*/%=(){}\[\],.:])
    |(?P<NUMBER>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<STRING>"(?:[^"\\\n]|\\[^\n])*")
    |(?P<COMMENT>\#[^\n]*)
    |(?P<UNTERMINATED>"[^\n]*)
    |(?P<BAD>[^ \t\r\f\v\n])
    )
    """,
    re.VERBOSE,
)
_OPENING = frozenset({"LPAR", "LBRACK", "LBRACE"})
_CLOSING = frozenset({"RPAR", "RBRACK", "RBRACE"})
_FOLLOWED_BY_ASSIGN = re.compile(r"[ \t\r\n]*=(?!=)")
_FOLLOWED_BY_CALL = re.compile(r"[ \t\r\n]*\(")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "0": "\0"}
_ESCAPE_RE = re.compile(r"\\(.)")
_BAD_CHAR_HELP = {"&": "write 'and'", "|": "write 'or'", "!": "write 'not' (or '!=' to compare)",
                  "'": 'strings use double quotes: "text"', ";": "remove it: clauses need no separator"}


class Token(NamedTuple):
    """A lexed token: its terminal name, its text and its location.

    A named tuple holding a ready-made `Span`: the fast tokenizer builds every token and span
    with C-level `map`/`zip` (no Python frame per token), and the IR builder reuses the span.
    """

    type: str
    value: str
    span: Span

    # Positions, for code that reads a token like Lark's.
    start_pos = property(lambda self: self[2][5])
    end_pos = property(lambda self: self[2][6])
    line = property(lambda self: self[2][1])
    column = property(lambda self: self[2][2])
    end_line = property(lambda self: self[2][3])
    end_column = property(lambda self: self[2][4])

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type}, {self.value!r})"


_new_token = partial(tuple.__new__, Token)
_new_span = partial(tuple.__new__, Span)


@dataclass(frozen=True, slots=True)
class CommentToken:
    text: str
    span: Span


def unescape(literal: str) -> str:
    """The value of a string literal (with its quotes); unknown escapes are kept as written."""
    body = literal[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def escape(value: str) -> str:
    """A string literal (with quotes) whose value is `value`."""
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out.replace(chr(13), chr(92) + "r").replace(chr(0), chr(92) + "0")}"'


def token_span(tok: Token) -> Span:
    """Where `tok` is in the source."""
    return tok[2]


def tokenize(text: str, file: str) -> tuple[list[Token], list[CommentToken], list[Diagnostic]]:
    """Split `text` into tokens, comments and lexical diagnostics (the bulk path when the text
    has no lexical problem, else the general one)."""
    fast = _tokenize_clean(text, file)
    return fast if fast is not None else _tokenize_any(text, file)


def _tokenize_any(text: str, file: str) -> tuple[list[Token], list[CommentToken], list[Diagnostic]]:
    """The general tokenizer: one match at a time, reporting every lexical problem."""
    tokens: list[Token] = []
    comments: list[CommentToken] = []
    diags: list[Diagnostic] = []
    line, line_start = 1, 0
    depth = 0
    too_deep_reported = False
    prev_type = None
    append = tokens.append
    keywords = KEYWORDS
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "NL":
            line += 1
            line_start = m.end()
            continue
        value = m.group(kind)
        end = m.end()
        start = end - len(value)
        col = start - line_start + 1
        if kind == "WORD":
            ttype = keywords.get(value)
            if ttype is None:
                ttype = "NAME"
            elif prev_type == "DOT" or _FOLLOWED_BY_ASSIGN.match(text, end) or (
                value in _SOFT_BEFORE_CALL and _FOLLOWED_BY_CALL.match(text, end)
            ):
                ttype = "NAME"
        elif kind == "OP":
            ttype = PUNCTUATION[value]
            if ttype in _OPENING:
                depth += 1
                if depth > MAX_NESTING and not too_deep_reported:
                    too_deep_reported = True
                    diags.append(
                        error(
                            codes.NESTED_TOO_DEEPLY,
                            f"brackets nested more than {MAX_NESTING} deep",
                            Span(file=file, line=line, column=col, end_line=line, end_column=col + 1, start=start, end=end),
                            help="split the expression into smaller parts",
                        )
                    )
            elif ttype in _CLOSING:
                depth = max(0, depth - 1)
        elif kind == "NUMBER" or kind == "STRING":
            ttype = kind
        elif kind == "COMMENT":
            comments.append(
                CommentToken(
                    value.rstrip(),
                    Span(file=file, line=line, column=col, end_line=line, end_column=col + len(value), start=start, end=end),
                )
            )
            continue
        else:
            span = Span(file=file, line=line, column=col, end_line=line, end_column=col + len(value), start=start, end=end)
            if kind == "UNTERMINATED":
                diags.append(
                    error(codes.UNTERMINATED_STRING, "unterminated string", span, help='close the string with " on the same line')
                )
                # Keep parsing: treat the rest of the line as a string so the item can still be read.
                ttype, value = "STRING", value + '"'
            else:
                shown = value if value.isprintable() else repr(value)[1:-1]
                diags.append(error(codes.UNEXPECTED_CHARACTER, f"unexpected character '{shown}'", span, help=_BAD_CHAR_HELP.get(value, "remove it")))
                continue
        tok = _new_token((ttype, value, Span(file, line, col, line, col + (end - start), start, end)))
        append(tok)
        prev_type = ttype
    return tokens, comments, diags


# The fast path splits the whole text with one C-level `re.split`: gaps between tokens are
# blanks only, so offsets are running sums of lengths and every per-token step is a C `map`.
# Any lexical problem (an unterminated string, a stray character, brackets nested too deep)
# sends the text to `_tokenize_any`, which reports it exactly.
_CLEAN_TOKEN_RE = re.compile(
    r"""
    ([A-Za-z_][A-Za-z0-9_]*
    |==|!=|<=|>=|[<>+\-*/%=(){}\[\],.:]
    |[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?
    |"(?:[^"\\\n]|\\[^\n])*"
    |\#[^\n]*)
    |"[^\n]*
    |[^ \t\r\f\v\n]
    """,
    re.VERBOSE,
)
_TYPE_OF = {**KEYWORDS, **PUNCTUATION}
_FIRST_CHAR_TYPE = {
    **{c: "NAME" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"},
    **{c: "NUMBER" for c in "0123456789"},
    '"': "STRING",
    "#": "COMMENT",
}
_NOT_COMMENT = {"COMMENT": False}
_DEPTH = {"LPAR": 1, "LBRACK": 1, "LBRACE": 1, "RPAR": -1, "RBRACK": -1, "RBRACE": -1}
_IS_KEYWORD = frozenset(KEYWORDS.values()).__contains__
_first_char = itemgetter(0)
_LOOK_AHEAD = frozenset({"EQUAL", "LPAR"})  # a keyword before these may be a name
_LOOK_BEHIND = frozenset({"DOT", "COMMENT"})


def _tokenize_clean(text: str, file: str) -> tuple[list[Token], list[CommentToken], list[Diagnostic]] | None:
    """Tokenize text without lexical problems in bulk; None when there is a problem to report.

    Newlines stay in the gaps between tokens (they are blanks to the grammar): a token's line
    is 1 + the newlines in the gaps before it, and the first token of a line finds where its
    line starts from the last newline of the gap before it.
    """
    parts = _CLEAN_TOKEN_RE.split(text)
    values = parts[1::2]
    if None in values:  # an unterminated string or an unexpected character
        return None
    n = len(values)
    gaps = parts[0:2 * n:2]  # gaps[i] comes just before values[i]
    offsets = list(accumulate(map(len, parts)))
    starts = offsets[0:2 * n:2]
    ends = offsets[1::2]
    types = list(map(_TYPE_OF.get, values, map(_FIRST_CHAR_TYPE.get, map(_first_char, values))))
    brackets = list(filter(None, map(_DEPTH.get, types)))
    if len(brackets) > MAX_NESTING:
        depth = list(accumulate(brackets, initial=0))
        if max(map(sub, depth, accumulate(depth, min))) > MAX_NESTING:
            return None
    _soft_keywords(types, values, ends, text)
    newlines = list(map(str.count, gaps, repeat("\n")))
    lines = list(accumulate(newlines, initial=1))
    del lines[0]  # now lines[i] is the line of values[i]
    # line -> (offset where the line starts) - 1, from the first token of each line after the first
    first_gaps = list(compress(gaps, newlines))
    first_columns = map(sub, map(len, first_gaps), map(str.rfind, first_gaps, repeat("\n")))  # 1-based
    before_line = dict(zip(compress(lines, newlines), map(sub, compress(starts, newlines), first_columns)))
    before_line[1] = -1
    columns = list(map(sub, starts, map(before_line.__getitem__, lines)))  # 1-based
    end_columns = map(add, columns, map(len, values))
    rows = zip(types, values, map(_new_span, zip(repeat(file), lines, columns, lines, end_columns, starts, ends)))
    comments: list[CommentToken] = []
    if "COMMENT" in types:
        rows = list(rows)
        i = -1
        while (i := _index(types, "COMMENT", i + 1)) >= 0:
            comments.append(CommentToken(values[i].rstrip(), rows[i][2]))
        rows = compress(rows, map(_NOT_COMMENT.get, types, repeat(True)))
    return list(map(_new_token, rows)), comments, []


def _index(items: list, value, start: int) -> int:
    try:
        return items.index(value, start)
    except ValueError:
        return -1


def _soft_keywords(types: list[str], values: list[str], ends: list[int], text: str) -> None:
    """Read a keyword as a name after '.', before '=' and (for soft keywords) before '('.

    `types` still holds the comments, which the look-behind skips."""
    last = len(types) - 1
    for i in compress(range(len(types)), map(_IS_KEYWORD, types)):
        # Most keywords are followed by a name and preceded by neither '.' nor a comment.
        if i < last and types[i + 1] not in _LOOK_AHEAD and types[i - 1] not in _LOOK_BEHIND and i:
            continue
        j = i - 1
        while j >= 0 and types[j] == "COMMENT":
            j -= 1
        end = ends[i]
        if (j >= 0 and types[j] == "DOT") or _FOLLOWED_BY_ASSIGN.match(text, end) or (
            values[i] in _SOFT_BEFORE_CALL and _FOLLOWED_BY_CALL.match(text, end)
        ):
            types[i] = "NAME"


def split_items(tokens: list[Token]) -> list[list[Token]]:
    """Cut a token list before every top-level item keyword."""
    cuts = [0]
    # Only the item keywords are looked at in Python; finding them is one C-level pass.
    for i in compress(range(len(tokens)), map(ITEM_KEYWORDS.__contains__, map(_first_char, tokens))):
        # `agent data "Data Corp"`: an item keyword right after one, on the same line, is a keyword
        # used as a name; keeping it in the item gives one clear error instead of two confusing ones.
        if i == 0:
            continue
        prev = tokens[i - 1]
        if prev[0] in ITEM_KEYWORDS and prev[2][1] == tokens[i][2][1]:
            continue
        cuts.append(i)
    cuts.append(len(tokens))
    return [tokens[a:b] for a, b in zip(cuts, cuts[1:]) if b > a]


def describe(tok: Token) -> str:
    """How a token is named in a syntax error: `keyword 'to'`, `name 'x'`, `'}'`."""
    if tok.type == "$END":
        return "the end of the item"
    if tok.type in KEYWORDS.values():
        return f"the keyword '{tok.value}'"
    if tok.type == "NAME":
        return f"the name '{tok.value}'"
    if tok.type == "STRING":
        return f"the string {tok.value}"
    if tok.type == "NUMBER":
        return f"the number {tok.value}"
    return f"'{tok.value}'"
