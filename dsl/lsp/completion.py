"""Completion of names and keywords in context.

The context comes from the tokens of the item the cursor is in (from its keyword up to the
cursor), so completion works in text that does not parse yet. Names come from the last
analysis (which may be a few keystrokes old).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lsprotocol import types

from ..tokens import tokenize
from .analysis import Analysis

ITEM_KEYWORDS = ["use", "agent", "data", "policy", "contract", "never", "goal"]
CLAUSE_KEYWORDS = ["by", "compute", "keep", "to", "require", "ensure"]
EXPR_KEYWORDS = ["and", "or", "not", "for", "in", "true", "false"]
FORMATS = ["csv", "parquet", "json"]
COLUMN_TYPES = ["int", "float", "string", "bool", "date", "datetime"]
_ITEM_START = re.compile(r"^[ \t]*(?:use|agent|data|policy|contract|never|goal)\b(?![ \t]*(?:=(?!=)|\())", re.M)
_WORD_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_MEMBER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*|\*)[ \t]*\.[ \t]*([A-Za-z_][A-Za-z0-9_]*)?$")
_EXPR_END = {"NAME", "NUMBER", "STRING", "RPAR", "RBRACK", "TRUE", "FALSE"}

K = types.CompletionItemKind


@dataclass
class _Ctx:
    tokens: list  # tokens of the current item before the partial word
    at_line_start: bool  # only whitespace between the line start and the partial word


def item_start(text: str, offset: int) -> int:
    """Start of the line where the item holding `offset` begins (a cheap backwards search)."""
    window = 4096
    while True:
        lo = max(0, offset - window)
        last = None
        for m in _ITEM_START.finditer(text, lo, offset):
            last = m
        if last is not None and (last.start() > lo or lo == 0):
            return last.start()
        if lo == 0:
            return 0
        window *= 8


def _in_comment_or_string(line: str) -> bool:
    in_string = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            return True
        i += 1
    return in_string


def complete(a: Analysis | None, text: str, offset: int) -> list[types.CompletionItem]:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    if _in_comment_or_string(line):
        return []
    word = _WORD_BEFORE.search(line)
    word_start = offset - (len(word.group()) if word else 0)
    member = _MEMBER.search(line)
    start = item_start(text, word_start)
    tokens, _, _ = tokenize(text[start:word_start], "<completion>")
    # only the last item: a line may hold the end of one item and the start of the next
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].type in ("USE", "AGENT", "DATA", "POLICY", "CONTRACT", "NEVER", "GOAL"):
            tokens = tokens[i:]
            break
    ctx = _Ctx(tokens=tokens, at_line_start=not text[line_start:word_start].strip())
    if member is not None:
        return _members(a, member.group(1), tokens)
    return _Completer(a, ctx).items()


def _members(a: Analysis | None, base: str, tokens) -> list[types.CompletionItem]:
    """After `owner.`: that owner's data (`*` in patterns); after `var.` of a loop: data of every agent."""
    if a is None:
        return []
    sym = a.symbols
    first = tokens[0].type if tokens else None
    pattern_context = first in ("POLICY", "NEVER")
    owners = [base]
    if base not in sym.agents:
        loop = _loop_agents(a, tokens, base)
        if loop is None:
            return [_item("*", K.Constant, "every data element")] if pattern_context else []
        owners = loop
    per_owner = [{d.name.name for d in sym.data.values() if d.owner.name == o} for o in owners]
    names = set.intersection(*per_owner) if per_owner else set()
    items = [_item(n, K.Field, f"data {owners[0]}.{n}" if len(owners) == 1 else "data") for n in sorted(names)]
    if pattern_context:
        items.append(_item("*", K.Constant, f"every data element of {base}"))
    return items


def _loop_agents(a: Analysis, tokens, var: str) -> list[str] | None:
    """The agents a `for VAR in [...]` earlier in the item ranges over."""
    for i, t in enumerate(tokens):
        if t.type == "FOR" and i + 2 < len(tokens) and tokens[i + 1].value == var and tokens[i + 2].type == "IN":
            out, j = [], i + 3
            if j < len(tokens) and tokens[j].type == "LBRACK":
                j += 1
                while j < len(tokens) and tokens[j].type != "RBRACK":
                    if tokens[j].type == "NAME" and tokens[j].value in a.symbols.agents:
                        out.append(tokens[j].value)
                    j += 1
            return out
    return None


def _item(label: str, kind, detail: str | None = None, doc: str | None = None, insert: str | None = None,
          sort: str = "1") -> types.CompletionItem:
    return types.CompletionItem(
        label=label,
        kind=kind,
        detail=detail,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc) if doc else None,
        insert_text=insert,
        sort_text=f"{sort}{label}",
    )


class _Completer:
    def __init__(self, a: Analysis | None, ctx: _Ctx):
        self.a = a
        self.ctx = ctx
        self.sym = a.symbols if a is not None else None

    # ---------------------------------------------------------------- name lists
    def keywords(self, words, detail="keyword") -> list:
        return [_item(w, K.Keyword, detail, sort="2") for w in words]

    def agents(self) -> list:
        if self.sym is None:
            return []
        return [_item(n, K.Class, f"agent {n}" + (f" ({d.display.value})" if d.display else ""))
                for n, d in self.sym.agents.items()]

    def data(self) -> list:
        if self.sym is None:
            return []
        return [_item(k, K.Field, f"data {d.format.name} {d.path.value}") for k, d in self.sym.data.items()]

    def kept(self) -> list:
        if self.sym is None:
            return []
        return [_item(k, K.Variable, f"kept by contract {c.name.name}") for k, c in self.sym.kept.items()]

    def contracts(self) -> list:
        if self.sym is None:
            return []
        return [_item(k, K.Module, "contract") for k in self.sym.contracts]

    def functions(self) -> list:
        if self.sym is None:
            return []
        from .hover import function_text

        return [_item(n, K.Function, s.signature_text(), function_text(s)) for n, s in self.sym.functions.items()]

    def wildcards(self, what: str) -> list:
        return [_item("any", K.Constant, f"any {what}", sort="0"), _item("*", K.Constant, f"any {what}", sort="0")]

    # ---------------------------------------------------------------- contexts
    def items(self) -> list:
        toks = self.ctx.tokens
        if not toks:
            return self.keywords(ITEM_KEYWORDS)
        depth = sum(1 if t.type in ("LBRACE",) else -1 if t.type == "RBRACE" else 0 for t in toks)
        closed = depth == 0 and any(t.type == "RBRACE" for t in toks)
        head = toks[0].type
        if closed:
            return self.keywords(ITEM_KEYWORDS)
        handler = getattr(self, f"_{head.lower()}", None)
        out = handler(toks, depth) if handler else []
        if self.ctx.at_line_start and depth == 0 and head not in ("POLICY", "CONTRACT"):
            out = out + self.keywords(ITEM_KEYWORDS)
        return out

    def _data(self, toks, depth):
        if depth > 0:
            return self.keywords(COLUMN_TYPES, "column type") if toks[-1].type == "COLON" else []
        if len(toks) == 1:
            return self.agents()
        if len(toks) == 4:
            return self.keywords(FORMATS, "data format")
        if toks[-1].type == "STRING" and not any(t.type == "MOCK" for t in toks):
            return self.keywords(["mock"])
        return []

    def _goal(self, toks, depth):
        if len(toks) == 1:
            return self.agents()
        if len(toks) == 2:
            return self.keywords(["receives"])
        if toks[-1].type == "RECEIVES":
            return self.contracts()
        return []

    def _never(self, toks, depth):
        last = toks[-1].type
        if last == "NEVER":
            return self.data() + self.agents() + self.wildcards("data element")
        if last in ("REACHES", "COMMA") and any(t.type == "REACHES" for t in toks):
            return self.agents() + self.wildcards("agent")
        if not any(t.type == "REACHES" for t in toks):
            return self.keywords(["reaches"])
        return []

    def _policy(self, toks, depth):
        if depth == 0:
            return self.agents() if len(toks) == 1 else []
        rule_kws = [t for t in toks if t.type in ("ALLOW", "DENY", "ON", "TO", "EXCEPT")]
        last = toks[-1].type
        effects = self.keywords(["allow", "deny"], "policy effect")
        if not rule_kws or last == "LBRACE":
            return effects
        kw = rule_kws[-1].type
        if last in ("ALLOW", "DENY"):
            return self.functions() + self.wildcards("function")
        modifiers = self.keywords(["on", "to", "except"], "rule clause")
        if last == kw == "ON" or (kw == "ON" and last == "COMMA"):
            return self.data() + self.agents() + self.wildcards("data element")
        if last == kw == "TO" or (kw == "TO" and last == "COMMA"):
            return self.agents() + self.wildcards("agent")
        if last == kw == "EXCEPT" or (kw == "EXCEPT" and last == "COMMA"):
            return self.functions()
        return modifiers + effects

    def _contract(self, toks, depth):
        if depth == 0:
            return []
        # the innermost open bracket, and the last clause keyword outside brackets
        stack: list[int] = []
        clause = None
        for i, t in enumerate(toks):
            if t.type in ("LPAR", "LBRACK"):
                stack.append(i)
            elif t.type in ("RPAR", "RBRACK") and stack:
                stack.pop()
            elif not stack and t.type in ("BY", "COMPUTE", "KEEP", "TO", "REQUIRE", "ENSURE"):
                clause = t.type
        last = toks[-1]
        clauses = self.keywords(CLAUSE_KEYWORDS, "contract clause")
        if clause is None or last.type == "LBRACE":
            return clauses
        if not stack and self.ctx.at_line_start and last.type in _EXPR_END:
            # a new line after a complete clause: most likely the next clause
            return clauses + self.keywords(["and", "or"])
        if clause == "BY":
            return self.agents() if last.type == "BY" else clauses
        if clause == "TO":
            return self.agents() if last.type in ("TO", "COMMA") else clauses
        if clause == "KEEP":
            if last.type == "KEEP":
                return []
            if last.type == "EQUAL" and not stack:
                return self.functions()
        if clause == "COMPUTE" and last.type == "COMPUTE":
            return self.functions()
        return self._expression(toks, stack, clause == "ENSURE")

    def _expression(self, toks, stack, in_ensure: bool):
        out = self.functions() + self.agents() + self.kept()
        out += self.keywords(EXPR_KEYWORDS)
        if in_ensure:
            out.append(_item("result", K.Variable, "the value the contract computed", sort="0"))
        for i, t in enumerate(toks):  # loop variables in scope
            if t.type == "FOR" and i + 1 < len(toks) and toks[i + 1].type == "NAME":
                out.append(_item(toks[i + 1].value, K.Variable, "loop variable", sort="0"))
        # keyword arguments of the innermost open call
        if stack and toks[stack[-1]].type == "LPAR" and stack[-1] > 0 and toks[stack[-1] - 1].type == "NAME":
            if toks[-1].type in ("LPAR", "COMMA") and self.sym is not None:
                sig = self.sym.functions.get(toks[stack[-1] - 1].value)
                if sig is not None:
                    used = {toks[i].value for i in range(stack[-1] + 1, len(toks) - 1)
                            if toks[i].type == "NAME" and toks[i + 1].type == "EQUAL"}
                    for p in sig.params:
                        if p.kind in ("positional", "keyword_only") and p.name not in used:
                            out.append(_item(f"{p.name} =", K.Property, p.annotation or "argument",
                                             insert=f"{p.name} = ", sort="0"))
        return out
