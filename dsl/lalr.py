"""A table-driven LALR(1) driver over the parse table Lark builds from `grammar.lark`.

Lark compiles the grammar and its LALR tables; this loop runs them with the IR builder's
methods as direct reduce actions. It mirrors Lark's own semantics (`?rule` inlines a single
child, `-> alias` names the action, rules whose name starts with `_` are spliced into their
parent) without Lark's per-reduction wrapper layers, which matter at a million tokens. The
table is re-keyed once so that the hot loop does plain dict and tuple look-ups:

* each action says what the loop does (`_SHIFT`, `_LEAF`, `_CALLN`, `_GROW`, ...), so the
  common reductions run inline, without a call to a generic reducer;
* unit reductions (`?rule: child`) never run: each reduction's goto already includes the
  ones its lookahead triggers next (`_Gotos`);
* leaves (`NAME -> name`) get their token, not a one-element list.

The original tables (`actions`, `gotos`) stay for error reporting and the end of an item.
`reference_parser` runs Lark's own parser with the same builder; the differential test
(tests/parser/test_differential.py) holds this driver to it: same IR, same spans, same errors.

`read_lark_table` is the one place that reads Lark's internals (the parse table is not a
public API): pyproject.toml pins lark to the minor version it was written for
(`SUPPORTED_LARK`), and a Lark without them fails with `LarkInternalsError`, which says so.
It runs only when the table is (re)generated: `parse_table` stores its output as plain data,
so that parsing imports no Lark at all.
"""

from __future__ import annotations

from dataclasses import dataclass

SUPPORTED_LARK = "lark>=1.3.1,<1.4"


class LarkInternalsError(RuntimeError):
    """The installed Lark does not lay out its LALR table the way `read_lark_table` reads it."""


@dataclass(frozen=True, slots=True)
class LarkRule:
    """A grammar rule as Lark compiled it: `origin: expansion`, with its options."""

    origin: str
    expansion: tuple[tuple[bool, str], ...]  # (is a terminal, name) for each symbol
    alias: str | None  # `-> alias`
    expand1: bool  # `?rule`: a single child is inlined


Table = tuple[dict[int, dict[str, tuple]], int, int]
"""`(rows, start_state, end_state)`: `rows[state][symbol]` is `(True, state)` for a shift (a goto
for a nonterminal) or `(False, LarkRule)` for a reduction; states are numbered 0..n-1."""


def _table_classes() -> tuple[type, type]:
    """Lark's `Shift` and `Reduce` action markers (imported only when a table is read from Lark)."""
    from lark.parsers.lalr_analysis import Reduce, Shift

    return Shift, Reduce


def read_lark_table(lark, start: str = "start") -> Table:
    """Lark's LALR table for `start`, as plain data (a `Table`)."""
    try:
        shift, reduce = _table_classes()
        table = lark.parser.parser.parser.parse_table
        start_state, end_state = table.start_states[start], table.end_states[start]
        rules: dict[object, LarkRule] = {}
        rows: dict[int, dict[str, tuple]] = {}
        for state, row in table.states.items():
            out = {}
            for symbol, (action, arg) in row.items():
                if action is shift:
                    if type(arg) is not int:
                        raise TypeError(f"a shift to {arg!r}, not to a state number")
                    out[str(symbol)] = (True, arg)
                elif action is reduce:
                    if arg not in rules:
                        rules[arg] = LarkRule(
                            origin=str(arg.origin.name),
                            expansion=tuple((bool(sym.is_term), str(sym.name)) for sym in arg.expansion),
                            alias=None if arg.alias is None else str(arg.alias),
                            expand1=bool(arg.options.expand1),
                        )
                    out[str(symbol)] = (False, rules[arg])
                else:
                    raise ValueError(f"an action {action!r} that is neither Shift nor Reduce")
            rows[state] = out
        if sorted(rows) != list(range(len(rows))) or start_state not in rows or end_state not in rows:
            raise ValueError("the states are not numbered 0..n-1")
    except (ImportError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise LarkInternalsError(
            f"the .dsc parser reads the LALR table of {SUPPORTED_LARK}, and the installed lark "
            f"{_lark_version()} does not have it as expected "
            f"({type(exc).__name__}: {exc}); install {SUPPORTED_LARK}"
        ) from exc
    return rows, start_state, end_state


def _lark_version() -> str:
    try:
        import lark
    except ImportError:
        return "(none)"
    return getattr(lark, "__version__", "(unknown version)")


class _Splice(list):
    """The children of an inlined `_rule`, to be spliced into the parent's children."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ParseError(Exception):
    """No action for `token` in the current state. `token` is None at the end of the input."""

    token: object
    expected: frozenset[str]


# How a reduction builds its value (the original, general semantics).
_CALL, _INLINE_ONE, _SPLICE = 0, 1, 2

# What the hot loop does for an action (the first item of each entry in `Driver.fast`).
_SHIFT, _UNIT, _LEAF, _CALL1, _CALLN, _GROW, _NEW_SPLICE, _FLAT, _GROW_FLAT, _GENERAL = range(10)


class _Gotos(dict):
    """The state after a reduction, by the state under the reduced symbols, for one lookahead.

    Filled on first use. It includes the unit reductions (`?rule: child`) that the lookahead
    triggers next: they only move the top state, from the same state under it, so they are
    folded into this one look-up and never run in the loop.
    """

    __slots__ = ("driver", "symbol", "lookahead")

    def __init__(self, driver, symbol: str, lookahead: str):
        super().__init__()
        self.driver, self.symbol, self.lookahead = driver, symbol, lookahead

    def __missing__(self, below: int) -> int:
        d = self.driver
        state = d.gotos[below][self.symbol]
        while True:
            entry = d.actions[state].get(self.lookahead)
            if entry is None or entry[0]:
                break
            size, goto, mode = entry[1][:3]
            if not (size == 1 and mode == _INLINE_ONE):
                break
            state = d.gotos[below][goto]
        self[below] = state
        return state


class Driver:
    """Runs an LALR `Table` (Lark's, as `read_lark_table` or `parse_table.load` give it) with the
    methods of `builder` as reduce actions; `parse` returns the value of one item or raises
    `ParseError`."""

    def __init__(self, table: Table, builder):
        rows, self.start_state, self.end_state = table
        reductions: dict[LarkRule, tuple] = {}
        # actions[state][terminal] = (True, next_state) | (False, reduction)
        # reduction = (size, goto_symbol, mode, fn, has_splices, fast_kind, splice_flags)
        self.actions: dict[int, dict[str, tuple]] = {}
        self.gotos: dict[int, dict[str, int]] = {}
        for state, row in rows.items():
            acts, gotos = {}, {}
            for symbol, (is_shift, arg) in row.items():
                if not (symbol.isupper() or symbol == "$END"):
                    gotos[symbol] = arg  # nonterminal: Lark stores gotos as shifts
                elif is_shift:
                    acts[symbol] = (True, arg)
                else:
                    if arg not in reductions:
                        reductions[arg] = self._reduction(arg, builder)
                    acts[symbol] = (False, reductions[arg])
            self.actions[state] = acts
            self.gotos[state] = gotos
        # The hot loop's table: fast[state][terminal] = (kind, next_state) for a shift, or
        # (kind, size, gotos, fn, reduction, splice_flags) for a reduction, with gotos a `_Gotos`.
        shared: dict[tuple, _Gotos] = {}
        fast: dict[int, dict[str, tuple]] = {}
        for state, acts in self.actions.items():
            row = {}
            for term, (is_shift, arg) in acts.items():
                if is_shift:
                    row[term] = (_SHIFT, arg)
                    continue
                size, goto, _mode, fn, _splices, kind, _flags = arg
                key = (goto, term)
                if key not in shared:
                    shared[key] = _Gotos(self, goto, term)
                row[term] = (kind, size, shared[key], fn, arg, arg[6])
            fast[state] = row
        # Lark numbers its states 0..n-1: a list indexes faster than a dict.
        self.fast: list[dict[str, tuple]] = [fast[s] for s in range(len(fast))]

    @staticmethod
    def _reduction(rule: LarkRule, builder) -> tuple:
        name = rule.origin
        splices = [not is_term and sym.startswith("_") for is_term, sym in rule.expansion]
        has_splices = any(splices)
        size = len(rule.expansion)
        fn = None
        if rule.alias:
            fn, mode = getattr(builder, rule.alias), _CALL
        elif name.startswith("_"):
            mode = _SPLICE
        elif rule.expand1:
            fn, mode = getattr(builder, name, None), _INLINE_ONE
        else:
            fn, mode = getattr(builder, name, None), _CALL
            if fn is None:
                raise TypeError(f"the IR builder has no method for grammar rule '{name}'")
        if size == 0:
            kind = _GENERAL
        elif mode == _INLINE_ONE and size == 1:
            kind = _UNIT
        elif mode == _SPLICE:
            if not has_splices:
                kind = _NEW_SPLICE
            elif size >= 2 and splices[0] and rule.expansion[0] == (False, name):
                # `__x: __x item...`: the repetition so far grows in place
                kind = _GROW_FLAT if any(splices[1:]) else _GROW
            else:
                kind = _GENERAL
        elif has_splices:
            # With a repetition among two or more children, an inlining rule (`?rule`) always has
            # several children (a repetition is never empty), so it calls its method too.
            kind = _FLAT if size >= 2 else _GENERAL
        elif size == 1:
            kind = _LEAF if getattr(fn, "leaf", False) else _CALL1
        else:
            kind = _CALLN  # `_INLINE_ONE` with two or more children always calls, like `_CALL`
        # For _FLAT: which children are repetitions to splice in.
        flags = tuple(splices) if kind in (_FLAT, _GROW_FLAT) else None
        return (size, name, mode, fn, has_splices, kind, flags)

    def parse(self, tokens):
        fast = self.fast
        state = self.start_state
        states = [state]
        values: list = []
        push_state, push_value = states.append, values.append
        for tok in tokens:
            ttype = tok[0]
            while True:
                entry = fast[state].get(ttype)
                if entry is None:
                    raise ParseError(tok, self._expected(states))
                kind = entry[0]
                if kind == _SHIFT:
                    state = entry[1]
                    push_state(state)
                    push_value(tok)
                    break
                if kind == _LEAF:
                    values[-1] = entry[3](values[-1])
                    state = states[-1] = entry[2][states[-2]]
                elif kind == _CALLN:
                    n = entry[1]
                    children = values[-n:]
                    del values[1 - n:]
                    values[-1] = entry[3](children)
                    del states[1 - n:]
                    state = states[-1] = entry[2][states[-2]]
                elif kind == _GROW:
                    n = entry[1]
                    values[-n].extend(values[1 - n:])
                    del values[1 - n:]
                    del states[1 - n:]
                    state = states[-1] = entry[2][states[-2]]
                elif kind == _UNIT:
                    state = states[-1] = entry[2][states[-2]]
                elif kind == _CALL1:
                    values[-1] = entry[3](values[-1:])
                    state = states[-1] = entry[2][states[-2]]
                elif kind == _NEW_SPLICE:
                    n = entry[1]
                    splice = _Splice(values[-n:])
                    if n > 1:
                        del values[1 - n:]
                        del states[1 - n:]
                    values[-1] = splice
                    state = states[-1] = entry[2][states[-2]]
                elif kind == _FLAT:
                    # A rule with repetitions inside (`call: NAME "(" arg (", " arg)* ")"`).
                    n = entry[1]
                    children = []
                    for child, spliced in zip(values[-n:], entry[5]):
                        if spliced:
                            children += child
                        else:
                            children.append(child)
                    del values[1 - n:]
                    values[-1] = entry[3](children)
                    del states[1 - n:]
                    state = states[-1] = entry[2][states[-2]]
                elif kind == _GROW_FLAT:
                    n = entry[1]
                    grown = values[-n]
                    for child, spliced in zip(values[1 - n:], entry[5][1:]):
                        if spliced:
                            grown += child
                        else:
                            grown.append(child)
                    del values[1 - n:]
                    del states[1 - n:]
                    state = states[-1] = entry[2][states[-2]]
                else:
                    self._reduce(entry[4], states, values, self.gotos)
                    state = states[-1]
        end = self.end_state
        while states[-1] != end:
            entry = self.actions[states[-1]].get("$END")
            if entry is None or entry[0]:
                raise ParseError(None, self._expected(states))
            self._reduce(entry[1], states, values, self.gotos)
        return values[-1]

    @staticmethod
    def _reduce(reduction, state_stack, value_stack, gotos):
        size, goto, mode, fn, has_splices = reduction[:5]
        if size:
            children = value_stack[-size:]
            del value_stack[-size:]
            del state_stack[-size:]
        else:
            children = []
        if has_splices:
            # A left-recursive repetition (`x*`) arrives as [splice-so-far, new...]: grow the
            # splice in place, so that a run of n items costs O(n), not O(n^2).
            first = children[0] if children else None
            if mode == _SPLICE and type(first) is _Splice:
                flat = first
                rest = children[1:]
            else:
                flat = _Splice() if mode == _SPLICE else []
                rest = children
            for c in rest:
                if type(c) is _Splice:
                    flat.extend(c)
                else:
                    flat.append(c)
            children = flat
        if mode == _CALL:
            value = fn(children)
        elif mode == _INLINE_ONE:
            value = children[0] if len(children) == 1 else fn(children)
        else:
            value = children if type(children) is _Splice else _Splice(children)
        state_stack.append(gotos[state_stack[-1]][goto])
        value_stack.append(value)

    def _expected(self, state_stack: list) -> frozenset[str]:
        """The terminals that can really come next. A state's own lookaheads are not enough:
        LALR merges states, so some of them only lead to an error after a few reductions."""
        return frozenset(t for t in self.actions[state_stack[-1]] if self._accepts(state_stack, t))

    def _accepts(self, state_stack: list, term: str) -> bool:
        """Whether `term` would be shifted (or end the input) after the reductions it triggers."""
        stack = list(state_stack)
        while True:
            if term == "$END" and stack[-1] == self.end_state:
                return True
            entry = self.actions[stack[-1]].get(term)
            if entry is None:
                return False
            if entry[0]:
                return True
            size, goto = entry[1][0], entry[1][1]
            if size:
                del stack[-size:]
            stack.append(self.gotos[stack[-1]][goto])
