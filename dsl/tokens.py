"""The .dsc tokenizer: one compiled regular expression, soft keywords and readable token names.

Lexing is separate from parsing so that the source can be cut into top-level items before
any of them is parsed: a syntax error then costs only the item it is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


class Token:
    """A lexed token. Lighter than `lark.Token` (the parser handles about a million per second)."""

    __slots__ = ("type", "value", "start_pos", "end_pos", "line", "column", "end_line", "end_column")

    def __init__(self, type: str, value: str, start_pos: int, line: int, column: int, end_line: int,
                 end_column: int, end_pos: int):
        self.type = type
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type}, {self.value!r})"


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


def token_span(tok: Token, file: str) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)


def tokenize(text: str, file: str) -> tuple[list[Token], list[CommentToken], list[Diagnostic]]:
    """Split `text` into Lark tokens, comments and lexical diagnostics."""
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
                            "DSC004",
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
                    error("DSC002", "unterminated string", span, help='close the string with " on the same line')
                )
                # Keep parsing: treat the rest of the line as a string so the item can still be read.
                ttype, value = "STRING", value + '"'
            else:
                shown = value if value.isprintable() else repr(value)[1:-1]
                diags.append(error("DSC003", f"unexpected character '{shown}'", span, help=_BAD_CHAR_HELP.get(value, "remove it")))
                continue
        tok = Token(ttype, value, start, line, col, line, col + (end - start), end)
        append(tok)
        prev_type = ttype
    return tokens, comments, diags


def split_items(tokens: list[Token]) -> list[list[Token]]:
    """Cut a token list before every top-level item keyword."""
    chunks: list[list[Token]] = []
    current: list[Token] = []
    prev = None
    for tok in tokens:
        # `agent data "Data Corp"`: an item keyword right after one, on the same line, is a keyword
        # used as a name; keeping it in the item gives one clear error instead of two confusing ones.
        if tok.type in ITEM_KEYWORDS and current and not (
            prev is not None and prev.type in ITEM_KEYWORDS and prev.line == tok.line
        ):
            chunks.append(current)
            current = []
        current.append(tok)
        prev = tok
    if current:
        chunks.append(current)
    return chunks


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
