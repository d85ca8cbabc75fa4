"""The LALR driver reads Lark's internals: the pin in pyproject.toml and a clear error without them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import lark
import pytest
from lark.parsers.lalr_analysis import Reduce, Shift
from packaging.requirements import Requirement

from datastation.dsl import lalr, parse_table

ROOT = Path(__file__).resolve().parents[2]


def _lark_requirement() -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if re.match(r"lark\b", d)]
    return req


def test_pyproject_pins_the_supported_minor_version():
    req = _lark_requirement()
    assert req == Requirement(lalr.SUPPORTED_LARK)
    assert any(s.operator == "<" for s in req.specifier), "an upper bound: the next minor may move the internals"
    assert req.specifier.contains(lark.__version__), f"installed lark {lark.__version__} is outside {req}"


def _real_lark():
    return parse_table.build_lark()


def _with_table(**table) -> SimpleNamespace:
    """A stand-in for a Lark object whose parse table has the given attributes."""
    return SimpleNamespace(parser=SimpleNamespace(parser=SimpleNamespace(parser=SimpleNamespace(
        parse_table=SimpleNamespace(**table)))))


def test_the_installed_lark_reads_as_plain_data():
    rows, start, end = lalr.read_lark_table(_real_lark())
    assert sorted(rows) == list(range(len(rows))) and start in rows and end in rows
    entries = [e for row in rows.values() for e in row.values()]
    assert all(type(arg) is int for is_shift, arg in entries if is_shift)
    assert all(isinstance(arg, lalr.LarkRule) for is_shift, arg in entries if not is_shift)


BROKEN = {
    "no parser": SimpleNamespace(),
    "no end states": _with_table(states={0: {}}, start_states={"start": 0}),
    "no start rule": _with_table(states={0: {}}, start_states={}, end_states={}),
    "unknown action": _with_table(states={0: {"A": ("shift", 0)}}, start_states={"start": 0}, end_states={"start": 0}),
    "action not a pair": _with_table(states={0: {"A": Shift}}, start_states={"start": 0}, end_states={"start": 0}),
    "shift to a non-state": _with_table(states={0: {"A": (Shift, "x")}}, start_states={"start": 0},
                                        end_states={"start": 0}),
    "rule without options": _with_table(
        states={0: {"A": (Reduce, SimpleNamespace(origin=SimpleNamespace(name="a"), expansion=[], alias=None))}},
        start_states={"start": 0}, end_states={"start": 0}),
    "states not numbered from 0": _with_table(states={5: {}}, start_states={"start": 5}, end_states={"start": 5}),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_missing_internals_fail_clearly(name):
    with pytest.raises(lalr.LarkInternalsError) as caught:
        lalr.read_lark_table(BROKEN[name])
    message = str(caught.value)
    assert lalr.SUPPORTED_LARK in message and lark.__version__ in message


def test_missing_table_classes_fail_clearly(monkeypatch):
    def missing():
        raise ImportError("cannot import name 'Shift' from 'lark.parsers.lalr_analysis'")

    monkeypatch.setattr(lalr, "_table_classes", missing)
    with pytest.raises(lalr.LarkInternalsError, match="Shift"):
        lalr.read_lark_table(_real_lark())
