"""The checker binds call arguments exactly as Python does (dsl/binding.py).

For generated signatures (positional-only, positional-or-keyword, `*args`, keyword-only,
`**kwargs`, with and without defaults) and generated calls (positional arguments, then unique
keyword arguments, some naming no parameter): the checker accepts a call exactly when Python
does, both `inspect.signature(f).bind` and a real call of the function; when they accept it,
every parameter receives the same argument; when Python refuses it, the checker reports the
kind of mistake Python names first (among all it reports).

One known difference between the two references: before Python 3.13, `inspect.Signature.bind`
refuses a positional-only parameter's name passed by keyword even when `**kwargs` takes it,
which the interpreter (and 3.13's `bind`) accepts. There the real call decides.
"""

from __future__ import annotations

import inspect
import re
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datastation.dsl import ir
from datastation.dsl.binding import bind
from datastation.dsl.signatures import read_functions

NAMES = ["a", "b", "c", "d", "e", "f", "g", "h"]
OTHER_NAMES = ["x", "args", "kw"]  # names no parameter has, except the variadic ones when present
DEFAULT = "DEFAULT"

# Python's messages for a call that does not fit, and what the checker calls the same mistake.
PYTHON_ERRORS = [
    (r"missing \d+ required (positional|keyword-only) argument", "missing"),
    (r"takes (from \d+ to )?\d+ positional arguments? but \d+ ", "extra_positional"),
    (r"got multiple values for argument", "duplicate"),
    (r"got an unexpected keyword argument", "unknown"),
    (r"got some positional-only arguments passed as keyword arguments", "positional_only"),
]


@st.composite
def signatures(draw) -> str:
    """The parameter list of a Python function, e.g. `a, b=DEFAULT, /, c, *args, d, **kw`."""
    names = iter(draw(st.permutations(NAMES)))
    n_posonly, n_positional = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    n_defaults = draw(st.integers(0, n_posonly + n_positional))  # defaults end the positional parameters
    positional = []
    for i in range(n_posonly + n_positional):
        name = next(names)
        positional.append(f"{name}={DEFAULT!r}" if i >= n_posonly + n_positional - n_defaults else name)
    parts = positional[:n_posonly] + (["/"] if n_posonly else []) + positional[n_posonly:]
    var_positional = draw(st.booleans())
    keyword_only = [next(names) + (f"={DEFAULT!r}" if draw(st.booleans()) else "")
                    for _ in range(draw(st.integers(0, 2)))]
    if var_positional:
        parts.append("*args")
    elif keyword_only:
        parts.append("*")
    parts += keyword_only
    if draw(st.booleans()):
        parts.append("**kw")
    return ", ".join(parts)


@st.composite
def calls(draw) -> tuple[int, list[str]]:
    """How many positional arguments, and the names of the keyword arguments (each once)."""
    n_args = draw(st.integers(0, 5))
    keywords = draw(st.lists(st.sampled_from(NAMES + OTHER_NAMES), unique=True, max_size=4))
    return n_args, keywords


def python_call(params: str, n_args: int, keywords: list[str]):
    """Python's verdict on the call: (bound arguments or None, the call's error or None, bind() accepted)."""
    namespace: dict = {}
    exec(f"def f({params}):\n    return dict(locals())\n", namespace)
    f = namespace["f"]
    args = [100 + i for i in range(n_args)]
    kwargs = {name: 200 + j for j, name in enumerate(keywords)}
    try:
        inspect.signature(f).bind(*args, **kwargs)
        bind_ok = True
    except TypeError:
        bind_ok = False
    try:
        return f(*args, **kwargs), None, bind_ok
    except TypeError as exc:
        return None, str(exc), bind_ok


def checker_binding(params: str, n_args: int, keywords: list[str]):
    (sig,) = read_functions(f"def f({params}):\n    pass\n").values()
    call = ir.Call(
        func=ir.Ident(name="f"),
        args=tuple(ir.Num(value=100 + i) for i in range(n_args)),
        kwargs=tuple(ir.Keyword(name=ir.Ident(name=n), value=ir.Num(value=200 + j)) for j, n in enumerate(keywords)),
    )
    return sig, bind(sig, call)


def as_python_arguments(sig, b) -> dict:
    """The checker's binding in the form `locals()` of the called function takes (defaults left out)."""
    out: dict = {}
    for p in sig.params:
        if p.kind == "var_positional":
            out[p.name] = tuple(v.value for key, (q, v) in sorted(b.bound.items(), key=lambda kv: _index(kv[0]))
                                if q is p)
        elif p.kind == "var_keyword":
            out[p.name] = {key[2:]: v.value for key, (q, v) in b.bound.items() if q is p}
        elif p.name in b.bound:
            out[p.name] = b.bound[p.name][1].value
    return out


def _index(key: str) -> int:
    return int(key[1:]) if key.startswith("*") and not key.startswith("**") else -1


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signatures(), calls())
def test_binding_matches_python(params, call):
    n_args, keywords = call
    result, message, bind_ok = python_call(params, n_args, keywords)
    sig, b = checker_binding(params, n_args, keywords)
    assert b.fits == (result is not None), (params, call, message, b)
    if not _inspect_refuses_wrongly(sig, keywords):
        assert bind_ok == (result is not None), (params, call, message)
    if result is not None:
        given = {k: v for k, v in result.items() if v != DEFAULT}
        assert as_python_arguments(sig, b) == given
        return
    (kind,) = [kind for pattern, kind in PYTHON_ERRORS if re.search(pattern, message)]
    assert getattr(b, kind), (params, call, message, b)


def _inspect_refuses_wrongly(sig, keywords: list[str]) -> bool:
    positional_only = {p.name for p in sig.params if p.kind == "positional_only"}
    var_keyword = any(p.kind == "var_keyword" for p in sig.params)
    return sys.version_info < (3, 13) and var_keyword and bool(positional_only & set(keywords))


def test_the_issue_s_example():
    # def f(data, /, limit) called as f(data = ..., limit = ...): a TypeError at run time.
    result, message, bind_ok = python_call("data, /, limit", 0, ["data", "limit"])
    assert result is None and not bind_ok and "positional-only" in message
    _sig, b = checker_binding("data, /, limit", 0, ["data", "limit"])
    assert not b.fits and [kw.name.name for kw in b.positional_only] == ["data"] and not b.missing


def test_a_keyword_given_twice_is_a_duplicate():
    # Not expressible as a Python call (a SyntaxError there); the checker reports the second.
    _sig, b = checker_binding("a, b", 1, ["b", "b"])
    assert [kw.name.name for kw in b.duplicate] == ["b"] and not b.fits
