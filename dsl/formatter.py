"""The canonical .dsc layout (`dsc fmt`).

The layout is computed from the IR alone, so two programs with the same IR format the same.
Comments are re-inserted by position: every rendered node records on which output line its
first and last source character landed; an own-line comment goes before the line holding the
next node after it, a trailing comment after the line holding the node before it. The rules
are documented in docs/formatting.md.

`format_source` never formats broken input, and re-parses its own output: if the IR or the
comments would change it refuses with DSC098 instead of returning text.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass, field

from . import codes, ir
from .diagnostics import Diagnostic, Span, error
from .parser import parse
from .printer import attribute_parens, chain, iterable_parens, operand_parens, to_source, unary_parens
from .tokens import escape

WIDTH = 100  # maximum line length the layout aims for (comments are not counted)
STEP = 2  # indentation of a block's contents
CLAUSE_WIDTH = 7  # contract clause keywords are padded to `compute`/`require`
EFFECT_WIDTH = 5  # policy rule effects are padded to `allow`
REFUSED = codes.FORMATTER_REFUSED

def _dpattern(p: ir.DataPattern) -> str:
    return "any" if (p.owner, p.name) == ("*", "*") else f"{p.owner}.{p.name}"


# ---------------------------------------------------------------- output lines


@dataclass(slots=True)
class _Line:
    indent: int
    text: str = ""
    starts: list = field(default_factory=list)  # source offsets of nodes that start here
    ends: list = field(default_factory=list)  # (source offset, source line) of nodes that end here
    comment_indent: int = -1  # indentation of own-line comments placed before this line
    item: int = -1  # index of the top-level declaration, -1 for the end-of-file sentinel
    first: bool = False  # first line of its declaration
    pad_at: int = -1  # data lines: where alignment padding goes


def _valid(span: Span) -> bool:
    return span.end > span.start


class _Writer:
    """Writes the canonical layout as a list of `_Line`s with their source anchors."""

    def __init__(self, comment_offsets: list[int]) -> None:
        self.comments = comment_offsets  # sorted: constructs holding a comment are laid out broken
        self.lines: list[_Line] = []
        self.cur: _Line | None = None
        self.item = -1
        self._flat: dict[int, str] = {}

    # -- lines and anchors
    def newline(self, indent: int, comment_indent: int | None = None) -> None:
        self.cur = _Line(indent=indent, comment_indent=indent if comment_indent is None else comment_indent, item=self.item)
        self.lines.append(self.cur)

    def write(self, s: str) -> None:
        self.cur.text += s

    @property
    def col(self) -> int:
        return self.cur.indent + len(self.cur.text)

    def start(self, node) -> None:
        span = node.span
        if _valid(span):
            self.cur.starts.append(span.start)

    def end(self, node) -> None:
        span = node.span
        if _valid(span):
            self.cur.ends.append((span.end, span.end_line))

    def leaf(self, node, text: str) -> None:
        self.start(node)
        self.write(text)
        self.end(node)

    def fits(self, text_len: int, tail: int = 0) -> bool:
        return self.col + text_len + tail <= WIDTH

    def has_comment(self, lo: int, hi: int) -> bool:
        """Whether a comment starts strictly between source offsets `lo` and `hi`."""
        k = bisect.bisect_right(self.comments, lo)
        return k < len(self.comments) and self.comments[k] < hi

    def _holds_comment(self, node) -> bool:
        return _valid(node.span) and self.has_comment(node.span.start, node.span.end)

    # -- expressions: flat form
    def flat(self, e) -> str:
        """`e` on one line (`printer.to_source`), each node printed once per program."""
        return to_source(e, self._flat)

    # -- expressions: written with anchors, broken when too long
    def expr(self, e, tail: int = 0) -> None:
        if self.fits(len(self.flat(e)), tail) and not self._holds_comment(e):
            self._emit(e, tail, flat=True)
        else:
            self._emit(e, tail, flat=False)

    def _sub(self, e, tail: int, flat: bool, parens: bool) -> None:
        if parens:
            self.write("(")
            self._sub(e, tail + 1, flat, False)
            self.write(")")
        elif flat:
            self._emit(e, tail, flat=True)
        else:
            self.expr(e, tail)

    def _emit(self, e, tail: int, flat: bool) -> None:
        if isinstance(e, (ir.Name, ir.Str, ir.Num, ir.Bool)):
            self.leaf(e, self.flat(e))
            return
        self.start(e)
        if isinstance(e, ir.Attribute):
            attr = "." + e.attr.name
            self._sub(e.value, tail + len(attr), flat, attribute_parens(e))
            self.write(".")
            self.leaf(e.attr, e.attr.name)
        elif isinstance(e, ir.UnaryOp):
            self.write("not " if e.op == "not" else e.op)
            self._sub(e.operand, tail, flat, unary_parens(e))
        elif isinstance(e, ir.BinOp):
            self._binop(e, tail, flat)
        elif isinstance(e, ir.ForAll):
            self._forall(e, tail, flat)
        elif isinstance(e, ir.Call):
            self.leaf(e.func, e.func.name)
            self._bracketed("(", ")", list(e.args) + list(e.kwargs), tail, flat, e)
        elif isinstance(e, ir.ListExpr):
            self._bracketed("[", "]", list(e.items), tail, flat, e)
        else:
            raise TypeError(f"not an expression: {type(e).__name__}")
        self.end(e)

    def _arg(self, a, tail: int, flat: bool) -> None:
        if isinstance(a, ir.Keyword):
            self.start(a)
            self.leaf(a.name, a.name.name)
            self.write(" = ")
            self._sub(a.value, tail, flat, False)
            self.end(a)
        else:
            self._sub(a, tail, flat, False)

    def _bracketed(self, open_: str, close: str, items: list, tail: int, flat: bool, node) -> None:
        """`(a, b)` on one line, or one item per line with a trailing comma."""
        self.write(open_)
        if isinstance(node, ir.ListExpr) and _valid(node.span):  # a comment right after `[` stays inside
            self.cur.ends.append((node.span.start + 1, node.span.line))
        if flat or (not items and not self._holds_comment(node)):
            for i, a in enumerate(items):
                if i:
                    self.write(", ")
                self._arg(a, 0, True)
            self.write(close)
            return
        outer = self.cur.indent
        for a in items:
            self.newline(outer + STEP)
            self._arg(a, 1, False)
            self.write(",")
        self._closing(outer, node, close)

    def _binop(self, e: ir.BinOp, tail: int, flat: bool) -> None:
        operands = chain(e)
        if flat:
            for operand, op in operands:
                if op is not None:
                    self.write(f" {op} ")
                self._sub(operand, 0, True, operand_parens(e.op, operand, op is not None))
            return
        # Too long, or a comment between two operands: one operand per line, each continuation
        # line starting with its operator. Otherwise only the operands holding a comment break.
        cont = self.col + STEP
        last = len(operands) - 1
        one_per_line = not self.fits(len(self.flat(e)), tail) or any(
            _valid(a.span) and _valid(b.span) and self.has_comment(a.span.end, b.span.start)
            for (a, _), (b, _) in zip(operands, operands[1:])
        )
        for i, (operand, op) in enumerate(operands):
            if op is not None:
                if one_per_line:
                    self.newline(cont)
                    self.write(f"{op} ")
                else:
                    self.write(f" {op} ")
            self._sub(operand, tail if i == last else 0, False, operand_parens(e.op, operand, op is not None))

    def _forall(self, e: ir.ForAll, tail: int, flat: bool) -> None:
        body_col = self.col + STEP
        self.write("for ")
        self.leaf(e.var, e.var.name)
        self.write(" in ")
        self._sub(e.iterable, 1, flat, iterable_parens(e))
        self.write(":")
        body_inline = flat or (
            self.fits(1 + len(self.flat(e.body)), tail)
            and not (
                _valid(e.iterable.span) and _valid(e.body.span) and self.has_comment(e.iterable.span.end, e.body.span.start)
            )
        )
        if body_inline:
            self.write(" ")
            self._sub(e.body, tail, flat, False)
        else:
            self.newline(body_col)
            self._sub(e.body, tail, False, False)

    # -- declarations
    def decl(self, d, index: int) -> None:
        self.item = index
        self.newline(0)
        self.cur.first = True
        self.start(d)
        if isinstance(d, ir.Use):
            self.write("use ")
            self.leaf(d.path, escape(d.path.value))
        elif isinstance(d, ir.Agent):
            self.write("agent ")
            self.leaf(d.name, d.name.name)
            if d.display is not None:
                self.write(" ")
                self.leaf(d.display, escape(d.display.value))
        elif isinstance(d, ir.Data):
            self._data(d)
        elif isinstance(d, ir.Policy):
            self._block("policy", d.owner, d.rules, self._rule, d)
        elif isinstance(d, ir.Contract):
            self._block("contract", d.name, _clauses(d), self._clause, d)
        elif isinstance(d, ir.Never):
            self.write("never ")
            self.leaf(d.data, _dpattern(d.data))
            self.write(" reaches ")
            self._list(d.agents, lambda p: p.value)
        elif isinstance(d, ir.Goal):
            self.write("goal ")
            self.leaf(d.agent, d.agent.name)
            self.write(" receives ")
            self.leaf(d.contract, d.contract.name)
        else:
            raise TypeError(f"not a declaration: {type(d).__name__}")
        self.end(d)

    def _list(self, nodes, text) -> None:
        for i, n in enumerate(nodes):
            if i:
                self.write(", ")
            self.leaf(n, text(n))

    def _data(self, d: ir.Data) -> None:
        self.write("data ")
        self.leaf(d.owner, d.owner.name)
        self.write(".")
        self.leaf(d.name, d.name.name)
        self.cur.pad_at = len(self.cur.text)
        self.write(" ")
        self.leaf(d.format, d.format.name)
        self.write(" ")
        self.leaf(d.path, escape(d.path.value))
        if d.mock is not None:
            self.write(" mock ")
            self.leaf(d.mock, escape(d.mock.value))
        if d.schema is None:
            return
        cols = [f"{c.name.name}: {c.type.name}" for c in d.schema]
        one_line = " { " + ", ".join(cols) + " }" if cols else " {}"
        last = d.mock if d.mock is not None else d.path
        inside = _valid(last.span) and _valid(d.span) and self.has_comment(last.span.end, d.span.end)
        if self.fits(len(one_line)) and not inside:
            self.write(" {" + (" " if cols else ""))
            for i, (c, text) in enumerate(zip(d.schema, cols)):
                if i:
                    self.write(", ")
                self._column(c, text)
            self.write(" }" if cols else "}")
            return
        self.write(" {")
        for c, text in zip(d.schema, cols):
            self.newline(STEP)
            self._column(c, text)
            self.write(",")
        self._closing(0, d)

    def _column(self, c: ir.Column, text: str) -> None:
        self.start(c)
        self.leaf(c.name, c.name.name)
        self.write(": ")
        self.leaf(c.type, c.type.name)
        self.end(c)

    def _closing(self, indent: int, node, bracket: str = "}") -> None:
        """The line of a closing bracket; comments before it stay inside the brackets."""
        self.newline(indent, comment_indent=indent + STEP)
        if _valid(node.span):
            self.cur.starts.append(node.span.end - 1)
        self.write(bracket)

    def _block(self, keyword: str, name: ir.Ident, parts, render, d) -> None:
        self.write(keyword + " ")
        self.leaf(name, name.name)
        if not parts and not (_valid(name.span) and _valid(d.span) and self.has_comment(name.span.end, d.span.end)):
            self.write(" {}")
            return
        self.write(" {")
        for part in parts:
            self.newline(STEP)
            render(part)
        self._closing(0, d)

    def _rule(self, r: ir.Rule) -> None:
        self.start(r)
        self.write(r.effect.ljust(EFFECT_WIDTH) + " ")
        self.leaf(r.function, r.function.value)
        parts = []
        if r.data:
            parts.append(("on", r.data, _dpattern))
        if r.to:
            parts.append(("to", r.to, lambda p: p.value))
        if r.except_:
            parts.append(("except", r.except_, lambda i: i.name))
        flat_len = sum(1 + len(kw) + 1 + sum(len(text(n)) + 2 for n in nodes) - 2 for kw, nodes, text in parts)
        # A comment between two parts keeps them on separate lines.
        bounds = [(r.function, r.function)] + [(nodes[0], nodes[-1]) for _, nodes, _ in parts]
        broken = not self.fits(flat_len) or any(
            _valid(a.span) and _valid(b.span) and self.has_comment(a.span.end, b.span.start)
            for (_, a), (b, _) in zip(bounds, bounds[1:])
        )
        for kw, nodes, text in parts:
            if broken:
                self.newline(STEP * 3)
                self.write(kw + " ")
            else:
                self.write(f" {kw} ")
            self._list(nodes, text)
        self.end(r)

    def _clause(self, clause) -> None:
        kw, value = clause
        self.write(kw.ljust(CLAUSE_WIDTH) + " ")
        if kw == "by":
            self.leaf(value, value.name)
        elif kw == "to":
            self._list(value, lambda i: i.name)
        elif kw == "keep":
            name, call = value
            self.leaf(name, name.name)
            self.write(" = ")
            self.expr(call)
        else:
            self.expr(value)


def _clauses(c: ir.Contract) -> list:
    """A contract's clauses in canonical order: by, compute|keep, to, require..., ensure...."""
    out = []
    if c.by is not None:
        out.append(("by", c.by))
    if c.call is not None:
        out.append(("keep", (c.keep_as, c.call)) if c.keep_as is not None else ("compute", c.call))
    if c.to:
        out.append(("to", c.to))
    out += [("require", e) for e in c.requires]
    out += [("ensure", e) for e in c.ensures]
    return out


# ---------------------------------------------------------------- comments and blank lines


def _attach(lines: list[_Line], comments) -> tuple[list[list], list]:
    """For each line: the comments placed before it, and its trailing comment (or None)."""
    starts = sorted((off, i) for i, ln in enumerate(lines) for off in ln.starts)
    ends = sorted((off, src_line, i) for i, ln in enumerate(lines) for off, src_line in ln.ends)
    start_keys = [s[0] for s in starts]
    end_keys = [e[0] for e in ends]
    eof = len(lines) - 1
    attached: list[list] = [[] for _ in lines]
    for c in comments:
        p = c.span.start
        k = bisect.bisect_right(end_keys, p) - 1
        if k >= 0 and ends[k][1] == c.span.line:
            attached[ends[k][2]].append((p, c, True))
            continue
        k = bisect.bisect_right(start_keys, p)
        attached[starts[k][1] if k < len(starts) else eof].append((p, c, False))
    before: list[list] = []
    trailing: list = []
    for group in attached:
        group.sort(key=lambda t: t[0])
        if group and group[-1][2]:
            trailing.append(group[-1][1])
            group = group[:-1]
        else:
            trailing.append(None)
        before.append([c for _, c, _ in group])
    return before, trailing


def _forced_blank(prev, cur) -> bool:
    """Declarations of different kinds, and blocks, are separated by a blank line."""
    blocks = (ir.Policy, ir.Contract)
    return type(prev) is not type(cur) or isinstance(prev, blocks) or isinstance(cur, blocks)


def format_program(program: ir.Program) -> str:
    """The canonical text of `program`, its comments re-inserted."""
    w = _Writer(sorted(c.span.start for c in program.comments))
    for i, d in enumerate(program.decls):
        w.decl(d, i)
    w.item = -1
    w.newline(0)  # end-of-file sentinel: comments after the last declaration
    lines = w.lines
    before, trailing = _attach(lines, program.comments)
    decls = program.decls

    out: list[list] = []  # [code, pad_at, trailing comment]; ["", -1, None] is a blank line
    last_src: int | None = None  # source line of the last top-level entry written
    prev_decl = None

    def top(text: str, src_line: int, forced: bool = False, pad_at: int = -1, comment=None) -> None:
        nonlocal last_src
        if out and (forced or (last_src is not None and src_line - last_src > 1)):
            out.append(["", -1, None])
        out.append([text, pad_at, comment])
        last_src = src_line

    for i, ln in enumerate(lines):
        eof = i == len(lines) - 1
        text = " " * ln.indent + ln.text
        comment = trailing[i].text if trailing[i] is not None else None
        if ln.first or eof:
            d = None if eof else decls[ln.item]
            forced = d is not None and prev_decl is not None and _forced_blank(prev_decl, d)
            for c in before[i]:
                top(" " * ln.comment_indent + c.text, c.span.line, forced)
                forced = False
            if eof:
                break
            top(text, d.span.line if _valid(d.span) else (last_src or 0) + 1, forced, ln.pad_at, comment)
            prev_decl = d
        else:
            out.extend([" " * ln.comment_indent + c.text, -1, None] for c in before[i])
            out.append([text, -1, comment])
        if not eof and (i + 1 == len(lines) - 1 or lines[i + 1].first):  # last line of a declaration
            d = decls[ln.item]
            last_src = d.span.end_line if _valid(d.span) else last_src
    _align_data(out)
    _align_comments(out)
    return "".join(text + "\n" for text, _, _ in out)


def _runs(out: list[list], member):
    """Maximal runs [i, j) of adjacent entries for which `member(entry)` holds."""
    i = 0
    while i < len(out):
        if not member(out[i]):
            i += 1
            continue
        j = i
        while j < len(out) and member(out[j]):
            j += 1
        yield i, j
        i = j


def _align_data(out: list[list]) -> None:
    """Pad `owner.name` in runs of adjacent data lines so their formats line up."""
    for i, j in _runs(out, lambda e: e[1] >= 0):
        width = max(out[k][1] for k in range(i, j))
        for k in range(i, j):
            text, at, _ = out[k]
            out[k][0] = text[:at] + " " * (width - at) + text[at:]
            out[k][1] = -1


def _align_comments(out: list[list]) -> None:
    """Trailing comments of adjacent lines start in the same column, two spaces after the longest."""
    for i, j in _runs(out, lambda e: e[2] is not None):
        width = max(len(out[k][0]) for k in range(i, j))
        for k in range(i, j):
            out[k][0] = out[k][0].ljust(width) + "  " + out[k][2]
            out[k][2] = None


# ---------------------------------------------------------------- safe entry point


def same_ir(a, b) -> bool:
    """IR equality (spans ignored) without recursion, so long `and` chains compare too.

    Stricter than `==` on leaves: `Num(1)` and `Num(1.0)` differ, as they may hash differently.
    """
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, tuple):
            if len(x) != len(y):
                return False
            stack.extend(zip(x, y))
        elif dataclasses.is_dataclass(x):
            stack.extend((getattr(x, f.name), getattr(y, f.name)) for f in dataclasses.fields(x) if f.compare)
        elif x != y:
            return False
    return True


def _comment_texts(program: ir.Program) -> list[str]:
    return sorted(c.text for c in program.comments)


def format_source(text: str, file: str = "<input>") -> tuple[str | None, tuple[Diagnostic, ...]]:
    """Format .dsc source. Returns (formatted text, diagnostics), or (None, diagnostics) when the
    input has syntax errors or formatting would change its meaning (DSC098)."""
    try:
        parsed = parse(text, file)
    except Exception as exc:  # a parser bug must not become a traceback
        return None, (error(REFUSED, f"cannot format: the parser failed ({type(exc).__name__})", Span(file=file)),)
    if any(d.is_error for d in parsed.diagnostics):
        return None, parsed.diagnostics
    program = parsed.program
    first = program.decls[0].span if program.decls else Span(file=file)
    try:
        out = format_program(program)
        again = parse(out, file)
        same = (
            not any(d.is_error for d in again.diagnostics)
            and same_ir(again.program, program)
            and _comment_texts(again.program) == _comment_texts(program)
        )
    except RecursionError:
        return None, (
            error(REFUSED, "cannot format: the program is nested too deeply", first,
                  help="split long expressions into smaller parts"),
        )
    except Exception as exc:  # a formatter bug: refuse rather than crash or write something wrong
        return None, (error(REFUSED, f"cannot format: internal formatter error ({type(exc).__name__})", first),)
    if not same:
        return None, (
            error(
                REFUSED,
                "the formatter would change the meaning of this file or lose a comment; it was left unchanged",
                first,
                help="please report this with the file",
            ),
        )
    return out, parsed.diagnostics
