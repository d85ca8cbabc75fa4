"""Pygments lexer for .dsc contracts (`pygmentize -l dsc`, `python -m pygments -l dsc`).

Registered through the `pygments.lexers` entry point. Token types, by construct:

| construct | token |
| --- | --- |
| `use` | Keyword.Namespace |
| `agent data policy contract never goal` | Keyword.Declaration |
| `by compute keep to require ensure mock on except reaches receives for` | Keyword |
| `allow` / `deny` | Keyword.Reserved |
| `and or not in` | Operator.Word |
| `true false` | Keyword.Constant |
| `result` | Name.Builtin.Pseudo |
| `*` / `any` as a pattern | Name.Constant |
| agent declared (`agent NAME`) | Name.Class |
| data declared (`data owner.NAME`), kept result (`keep NAME =`) | Name.Property |
| contract declared, and named by `goal` | Name.Entity |
| agent reference (`owner` of `owner.name`, `by`, `to`, `reaches`, policy owner, loop variable) | Name.Variable |
| data reference (`.name`) | Name.Attribute |
| function call and function in a policy rule | Name.Function |
| keyword argument name | Name.Label |
| schema column | Name.Tag; column types and data formats: Keyword.Type |
| other names in expressions | Name |
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, default, include, words
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["DscLexer"]

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
WS = r"[ \t\r\f\v\n]"
# Soft keywords read as plain names before `=` (keyword argument) or `(` (call).
NOT_SOFT = rf"(?!{WS}*(?:=(?!=)|\())"
ITEM_KW = r"(?:use|agent|data|policy|contract|never|goal)"
CLAUSE_KW = r"(?:by|compute|keep|to|require|ensure)"
# Keywords that stay keywords before `(`: `not (a or b)` is not a call.
HARD_KW = r"(?:compute|require|ensure|for|in|or|and|not|true|false)"


def _skip(lexer, match):
    """A zero-width rule's action: no token, only the state change."""
    return iter(())


def _kw(word: str) -> str:
    return rf"\b{word}\b{NOT_SOFT}"


class DscLexer(RegexLexer):
    """Lexer for DataStation data-sharing contracts (.dsc)."""

    name = "DataStation contract"
    aliases = ["dsc", "datastation"]
    filenames = ["*.dsc"]
    mimetypes = ["text/x-dsc"]
    url = "https://example.invalid/datastation"

    tokens = {
        "common": [
            (rf"{WS}+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"', String.Double, "string"),
        ],
        "string": [
            (r'"', String.Double, "#pop"),
            (r'\\[ntr\\"0]', String.Escape),
            (r"\\[^\n]", String.Escape),  # unknown escapes are kept as written
            (r'[^"\\\n]+', String.Double),
            (r"\\", String.Double),
            default("#pop"),  # unterminated: the string ends with the line
        ],
        "number": [
            (r"[0-9]+(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+)", Number.Float),
            (r"[0-9]+", Number.Integer),
        ],
        "data-pattern": [
            (
                rf"({IDENT}|\*)({WS}*)(\.)({WS}*)({IDENT}|\*)",
                lambda lexer, m: _data_pattern(m),
            ),
            (rf"\*|\bany\b{NOT_SOFT}", Name.Constant),
        ],
        "root": [
            include("common"),
            (_kw("use"), Keyword.Namespace),
            (rf"(agent)\b{NOT_SOFT}({WS}+)({IDENT})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (
                rf"(data)\b{NOT_SOFT}({WS}+)({IDENT})({WS}*)(\.)({WS}*)({IDENT})(?:({WS}+)({IDENT}))?",
                bygroups(
                    Keyword.Declaration, Whitespace, Name.Variable, Whitespace, Punctuation, Whitespace,
                    Name.Property, Whitespace, Keyword.Type,
                ),
            ),
            (_kw("policy"), Keyword.Declaration, "policy-head"),
            (_kw("contract"), Keyword.Declaration, "contract-head"),
            (
                rf"(goal)\b{NOT_SOFT}({WS}+)({IDENT})({WS}+)(receives)\b({WS}+)({IDENT})",
                bygroups(Keyword.Declaration, Whitespace, Name.Variable, Whitespace, Keyword, Whitespace, Name.Entity),
            ),
            (rf"\b{ITEM_KW}\b{NOT_SOFT}", Keyword.Declaration),
            (rf"\b(?:mock|reaches|receives)\b{NOT_SOFT}", Keyword),
            (r"\{", Punctuation, "schema"),
            include("data-pattern"),
            (words(("csv", "parquet", "json"), prefix=r"\b", suffix=r"\b"), Keyword.Type),
            # Fragments (a single line of a contract, as in a diagnostic's snippet) start here too.
            (rf"\b{CLAUSE_KW}\b{NOT_SOFT}", Keyword),
            (rf"\b(?:on|except)\b{NOT_SOFT}", Keyword),
            (rf"\b(?:allow|deny)\b{NOT_SOFT}", Keyword.Reserved),
            include("expr-core"),
            (IDENT, Name.Variable),
            (r"==|!=|<=|>=|[<>+\-/%=]", Operator),
            (r"[()\[\],.:}]", Punctuation),
            (r".", Error),
        ],
        "schema": [
            include("common"),
            (r"\}", Punctuation, "#pop"),
            (rf"({IDENT})({WS}*)(:)", bygroups(Name.Tag, Whitespace, Punctuation)),
            (IDENT, Keyword.Type),
            (r",", Punctuation),
            (r"[^}]", Error),
        ],
        "policy-head": [
            include("common"),
            (r"\{", Punctuation, ("#pop", "policy")),
            (rf"(?=\b{ITEM_KW}\b{NOT_SOFT})", _skip, "#pop"),
            (IDENT, Name.Variable),
            default("#pop"),
        ],
        "policy": [
            include("common"),
            (r"\}", Punctuation, "#pop"),
            (
                rf"(allow|deny)\b{NOT_SOFT}(?:({WS}+)(?:(\*|any\b)|({IDENT})))?",
                bygroups(Keyword.Reserved, Whitespace, Name.Constant, Name.Function),
            ),
            (rf"\b(?:on|to)\b{NOT_SOFT}", Keyword),
            (_kw("except"), Keyword, "except"),
            include("data-pattern"),
            (r",", Punctuation),
            (rf"(?=\b{ITEM_KW}\b{NOT_SOFT})", _skip, "#pop"),  # a missing '}'
            (IDENT, Name.Variable),
            (r".", Error),
        ],
        "except": [
            include("common"),
            (rf"(?=\}}|\b(?:allow|deny)\b)", _skip, "#pop"),
            (r",", Punctuation),
            (IDENT, Name.Function),
            default("#pop"),
        ],
        "contract-head": [
            include("common"),
            (r"\{", Punctuation, ("#pop", "contract")),
            (rf"(?=\b{ITEM_KW}\b{NOT_SOFT})", _skip, "#pop"),
            (IDENT, Name.Entity),
            default("#pop"),
        ],
        "contract": [
            include("common"),
            (r"\}", Punctuation, "#pop"),
            (rf"\b(?:by|to)\b{NOT_SOFT}", Keyword, "agents"),
            (
                rf"(keep)\b{NOT_SOFT}({WS}+)({IDENT})({WS}*)(=)(?!=)",
                bygroups(Keyword, Whitespace, Name.Property, Whitespace, Operator),
            ),
            (rf"\b(?:keep|compute)\b{NOT_SOFT}", Keyword),
            (rf"\b(?:require|ensure)\b(?!{WS}*=(?!=))", Keyword),
            (rf"(?=\b{ITEM_KW}\b{NOT_SOFT})", _skip, "#pop"),  # a missing '}'
            include("expr"),
        ],
        "agents": [
            include("common"),
            (rf"(?=\}}|\b(?:{CLAUSE_KW}|{ITEM_KW})\b{NOT_SOFT})", _skip, "#pop"),
            (r",", Punctuation),
            (IDENT, Name.Variable),
            default("#pop"),
        ],
        "expr-core": [
            include("number"),
            (
                rf"(for)\b({WS}+)({IDENT})({WS}+)(in)\b",
                bygroups(Keyword, Whitespace, Name.Variable, Whitespace, Operator.Word),
            ),
            (rf"\bfor\b{NOT_SOFT}", Keyword),
            (rf"({IDENT})({WS}*)(=)(?!=)", bygroups(Name.Label, Whitespace, Operator)),
            (rf"\b(?!{HARD_KW}\b){IDENT}(?={WS}*\()", Name.Function),
            (rf"(\.)({WS}*)({IDENT})", bygroups(Punctuation, Whitespace, Name.Attribute)),
            (r"\b(?:and|or|not|in)\b", Operator.Word),
            (r"\b(?:true|false)\b", Keyword.Constant),
            (r"\bresult\b", Name.Builtin.Pseudo),
            (rf"{IDENT}(?={WS}*\.)", Name.Variable),
        ],
        "expr": [
            include("expr-core"),
            (IDENT, Name),
            (r"==|!=|<=|>=|[<>+\-*/%]", Operator),
            (r"[()\[\],:]", Punctuation),
            (r".", Error),
        ],
    }


def _data_pattern(m):
    """Tokens of `owner.name` where either part may be the wildcard `*`."""
    owner, ws1, dot, ws2, name = (m.group(i) for i in range(1, 6))
    pos = m.start()
    yield pos, Name.Constant if owner == "*" else Name.Variable, owner
    pos += len(owner)
    if ws1:
        yield pos, Whitespace, ws1
        pos += len(ws1)
    yield pos, Punctuation, dot
    pos += 1
    if ws2:
        yield pos, Whitespace, ws2
        pos += len(ws2)
    yield pos, Name.Constant if name == "*" else Name.Attribute, name
