"""Conditions: rendering back to source (round trip) and evaluation from the IR."""

import pytest

from datastation.contracts.conditions import AgentRef, ConditionError, Evaluator, to_source
from datastation.dsl.parser import parse


def expr(text):
    r = parse(f"contract c {{ require {text} }}", "c.dsc")
    assert not r.diagnostics, r.diagnostics
    return r.program.contracts[0].requires[0]


ROUND_TRIP = [
    "rows(a.t) >= 2000 and rows(b.t) >= 2000",
    "not (x or y) and z",
    "(1 + 2) * 3 == 9",
    "1 + 2 * 3 == 7",
    "-(1 - 2) > 0",
    "1 - (2 - 3) == 2",
    "for b in [bank1, bank2]: accuracy(result, b.test, \"is_fraud\") >= 0.9",
    "f(x, k = [1, 2.5, \"s\\\"q\"], m = true) != false",
    "(a < b) == (c < d)",
    "for b in [x]: for c in [y]: f(b.t, c.t)",
    "(for b in [x]: f(b)) and true",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_to_source_round_trips(text):
    e = expr(text)
    again = expr(to_source(e))
    assert again == e
    assert to_source(again) == to_source(e)


DATA = {"a.t": [1, 2, 3], "b.t": [1], "a.test": [4, 5]}


def make(calls=None, kept=()):
    reads = []

    def load(key):
        reads.append(key)
        if key not in DATA:
            raise ConditionError(f"no data {key}")
        return DATA[key]

    funcs = {"rows": lambda t: len(t), "double": lambda x: 2 * x, **(calls or {})}
    ev = Evaluator({"a", "b"}, load, lambda n, args, kw: funcs[n](*args, **kw), kept)
    return ev, reads


@pytest.mark.parametrize(
    "text,held",
    [
        ("rows(a.t) >= 3", True),
        ("rows(a.t) > 3", False),
        ("rows(a.t) + rows(b.t) == 4 and double(2) == 4", True),
        ("for x in [a, b]: rows(x.t) >= 1", True),
        ("for x in [a, b]: rows(x.t) >= 2", False),
        ("not rows(b.t) >= 2", True),
        ("10 % 3 == 1 and 7 / 2 == 3.5", True),
        ("\"ab\" + \"c\" == \"abc\"", True),
        ("false or rows(a.t) == 3", True),
    ],
)
def test_evaluation(text, held):
    ev, _ = make()
    r = ev.check(expr(text), "require", 1)
    assert r.error is None
    assert r.held is held


def test_and_stops_early_and_reads_are_recorded():
    ev, reads = make()
    assert not ev.check(expr("rows(b.t) > 5 and rows(a.t) > 0"), "require", 1).held
    assert reads == ["b.t"]


def test_comparisons_are_traced_with_bindings():
    ev, _ = make()
    r = ev.check(expr("for x in [a, b]: rows(x.t) >= 2"), "ensure", 1)
    assert [(c.left, c.right, c.held) for c in r.comparisons] == [(3, 2, True), (1, 2, False)]
    assert "with x = b" in r.comparisons[-1].text


def test_result_is_bound_only_in_ensure():
    ev, _ = make()
    assert ev.check(expr("result == 3"), "ensure", 1, result=3, with_result=True).held
    r = ev.check(expr("result == 3"), "require", 1)
    assert not r.held and "result" in r.error


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("rows(a.t)", "true or false"),
        ("1 / 0 == 1", "division by zero"),
        ("\"x\" < 1", "cannot compare"),
        ("-\"x\" == 1", "cannot negate"),
        ("for x in 3: true", "needs a list"),
        ("nobody == 1", "unknown name"),
        ("rows(a.missing) == 1", "no data a.missing"),
        ("double(1).t == 1", "not an agent"),
    ],
)
def test_errors_fail_the_condition(text, fragment):
    ev, _ = make()
    r = ev.check(expr(text), "require", 1)
    assert not r.held and fragment in r.error


def test_agents_are_values():
    ev, _ = make(calls={"who": lambda x: x})
    assert ev.eval(expr("who(a) == who(a)"), {}, {}) is True
    assert ev.eval(expr("who(a)"), {}, {}) == AgentRef("a")
