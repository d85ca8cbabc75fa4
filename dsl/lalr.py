"""A table-driven LALR(1) driver over the parse table Lark builds from `grammar.lark`.

Lark compiles the grammar and its LALR tables; this loop runs them with the IR builder's
methods as direct reduce actions. It mirrors Lark's own semantics (`?rule` inlines a single
child, `-> alias` names the action, rules whose name starts with `_` are spliced into their
parent) without Lark's per-reduction wrapper layers, which matter at a million tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from lark.parsers.lalr_analysis import Shift


class _Splice(list):
    """The children of an inlined `_rule`, to be spliced into the parent's children."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ParseError(Exception):
    """No action for `token` in the current state. `token` is None at the end of the input."""

    token: object
    expected: frozenset[str]


@dataclass(slots=True)
class _Action:
    size: int
    goto_name: str
    fn: Callable | None  # None: return the only child (`?rule` with one child)
    expand1: bool
    splice: bool  # this rule's own result is spliced into its parent
    has_splices: bool  # some children of this rule may be splices


class Driver:
    def __init__(self, lark, builder, start: str = "start"):
        table = lark.parser.parser.parser.parse_table
        self.states = table.states
        self.start_state = table.start_states[start]
        self.end_state = table.end_states[start]
        self._actions: dict[object, _Action] = {}
        for state in self.states.values():
            for action, arg in state.values():
                if action is not Shift and arg not in self._actions:
                    self._actions[arg] = self._make_action(arg, builder)

    @staticmethod
    def _make_action(rule, builder) -> _Action:
        name = rule.origin.name
        name = name.value if hasattr(name, "value") else str(name)
        splice = name.startswith("_")
        has_splices = any(
            not sym.is_term and str(sym.name).startswith("_") for sym in rule.expansion
        )
        fn = None
        if rule.alias:
            fn = getattr(builder, str(rule.alias))
        elif not splice:
            fn = getattr(builder, name, None)
            if fn is None and not rule.options.expand1:
                raise TypeError(f"the IR builder has no method for grammar rule '{name}'")
        return _Action(len(rule.expansion), name, fn, bool(rule.options.expand1) and not rule.alias, splice, has_splices)

    def parse(self, tokens):
        states = self.states
        actions = self._actions
        state_stack = [self.start_state]
        value_stack: list = []
        end = self.end_state

        def reduce(rule):
            a = actions[rule]
            n = a.size
            if n:
                children = value_stack[-n:]
                del value_stack[-n:]
                del state_stack[-n:]
            else:
                children = []
            if a.has_splices:
                flat = []
                for c in children:
                    if type(c) is _Splice:
                        flat.extend(c)
                    else:
                        flat.append(c)
                children = flat
            if a.splice:
                value = _Splice(children)
            elif a.expand1 and len(children) == 1:
                value = children[0]
            else:
                value = a.fn(children)
            state_stack.append(states[state_stack[-1]][a.goto_name][1])
            value_stack.append(value)

        for tok in tokens:
            ttype = tok.type
            while True:
                try:
                    action, arg = states[state_stack[-1]][ttype]
                except KeyError:
                    raise ParseError(tok, self._expected(state_stack)) from None
                if action is Shift:
                    state_stack.append(arg)
                    value_stack.append(tok)
                    break
                reduce(arg)
        while True:
            if state_stack[-1] == end:
                return value_stack[-1]
            try:
                action, arg = states[state_stack[-1]]["$END"]
            except KeyError:
                raise ParseError(None, self._expected(state_stack)) from None
            reduce(arg)

    def _expected(self, state_stack: list) -> frozenset[str]:
        """The terminals that can really come next. A state's own lookaheads are not enough:
        LALR merges states, so some of them only lead to an error after a few reductions."""
        candidates = [k for k in self.states[state_stack[-1]] if k.isupper() or k == "$END"]
        return frozenset(t for t in candidates if self._accepts(state_stack, t))

    def _accepts(self, state_stack: list, term: str) -> bool:
        """Whether `term` would be shifted (or end the input) after the reductions it triggers."""
        stack = list(state_stack)
        while True:
            if term == "$END" and stack[-1] == self.end_state:
                return True
            entry = self.states[stack[-1]].get(term)
            if entry is None:
                return False
            action, arg = entry
            if action is Shift:
                return True
            a = self._actions[arg]
            if a.size:
                del stack[-a.size:]
            stack.append(self.states[stack[-1]][a.goto_name][1])
