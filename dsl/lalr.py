"""A table-driven LALR(1) driver over the parse table Lark builds from `grammar.lark`.

Lark compiles the grammar and its LALR tables; this loop runs them with the IR builder's
methods as direct reduce actions. It mirrors Lark's own semantics (`?rule` inlines a single
child, `-> alias` names the action, rules whose name starts with `_` are spliced into their
parent) without Lark's per-reduction wrapper layers, which matter at a million tokens. The
table is re-keyed once so that the hot loop does plain dict and tuple look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark.parsers.lalr_analysis import Shift


class _Splice(list):
    """The children of an inlined `_rule`, to be spliced into the parent's children."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ParseError(Exception):
    """No action for `token` in the current state. `token` is None at the end of the input."""

    token: object
    expected: frozenset[str]


# How a reduction builds its value.
_CALL, _INLINE_ONE, _SPLICE = 0, 1, 2


class Driver:
    def __init__(self, lark, builder, start: str = "start"):
        table = lark.parser.parser.parser.parse_table
        self.end_state = table.end_states[start]
        self.start_state = table.start_states[start]
        reductions: dict[object, tuple] = {}
        # actions[state][terminal] = (True, next_state) | (False, reduction)
        # reduction = (size, goto_symbol, mode, fn, has_splices)
        self.actions: dict[int, dict[str, tuple]] = {}
        self.gotos: dict[int, dict[str, int]] = {}
        for state, row in table.states.items():
            acts, gotos = {}, {}
            for symbol, (action, arg) in row.items():
                if not (symbol.isupper() or symbol == "$END"):
                    gotos[symbol] = arg  # nonterminal: Lark stores gotos as shifts
                elif action is Shift:
                    acts[symbol] = (True, arg)
                else:
                    if arg not in reductions:
                        reductions[arg] = self._reduction(arg, builder)
                    acts[symbol] = (False, reductions[arg])
            self.actions[state] = acts
            self.gotos[state] = gotos

    @staticmethod
    def _reduction(rule, builder) -> tuple:
        name = rule.origin.name
        name = name.value if hasattr(name, "value") else str(name)
        has_splices = any(not sym.is_term and str(sym.name).startswith("_") for sym in rule.expansion)
        fn = None
        if rule.alias:
            fn, mode = getattr(builder, str(rule.alias)), _CALL
        elif name.startswith("_"):
            mode = _SPLICE
        elif rule.options.expand1:
            fn, mode = getattr(builder, name, None), _INLINE_ONE
        else:
            fn, mode = getattr(builder, name, None), _CALL
            if fn is None:
                raise TypeError(f"the IR builder has no method for grammar rule '{name}'")
        return (len(rule.expansion), name, mode, fn, has_splices)

    def parse(self, tokens):
        actions, gotos = self.actions, self.gotos
        state_stack = [self.start_state]
        value_stack: list = []
        push_state, push_value = state_stack.append, value_stack.append
        end = self.end_state
        for tok in tokens:
            ttype = tok.type
            while True:
                entry = actions[state_stack[-1]].get(ttype)
                if entry is None:
                    raise ParseError(tok, self._expected(state_stack))
                if entry[0]:
                    push_state(entry[1])
                    push_value(tok)
                    break
                size, goto, mode, fn, has_splices = entry[1]
                if size == 1 and mode == _INLINE_ONE:
                    # A unit reduction (`?rule: child`): the value stays, only the state moves.
                    state_stack[-1] = gotos[state_stack[-2]][goto]
                    continue
                self._reduce(entry[1], state_stack, value_stack, gotos)
        while state_stack[-1] != end:
            entry = actions[state_stack[-1]].get("$END")
            if entry is None or entry[0]:
                raise ParseError(None, self._expected(state_stack))
            self._reduce(entry[1], state_stack, value_stack, gotos)
        return value_stack[-1]

    @staticmethod
    def _reduce(reduction, state_stack, value_stack, gotos):
        size, goto, mode, fn, has_splices = reduction
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
