"""The full-trust executor on its own: hash check, data handles, short-circuit, results (user code in a child)."""

import pytest

from datastation.contracts.functions import function_source_in_text
from datastation.runtime.executors.base import (
    DataArg,
    ExecutionJob,
    FunctionRef,
    ListArg,
    ValueArg,
)
from datastation.runtime.executors.loader import LoadError, load_value, load_value_cached
from datastation.runtime.executors.inprocess import InProcessExecutor

MODULE = '''
from datastation.runtime.app_api import read_data


def total(frames, column):
    return int(sum(f[column].sum() for f in frames))


def sneaky(t):
    read_data("other.secret")
    return 1


def unserializable(t):
    return object()


def boom(t):
    raise ValueError("bad input")
'''
DATA = {"a.t": b"x\n1\n2\n", "b.t": b"x\n10\n", "other.secret": b"x\n99\n"}


def job(name, args=(), kwargs=(), source=None, allowed=("a.t", "b.t")):
    """A job for `name` of MODULE; the executor gets its closure (as the escrow gives it) unless `source`."""
    found = function_source_in_text(MODULE, "functions.py", name)
    reads = []

    def read(key):
        reads.append(key)
        return DATA[key]

    ref = FunctionRef(name=name, origin="user", source_hash=found.sha256, module_name="functions.py",
                      module_source=found.closure if source is None else source, line_map=found.line_map)
    return ExecutionJob(contract_id="c" * 64, contract_name="c", function=ref, args=tuple(args),
                        kwargs=tuple(kwargs), allowed=frozenset(allowed), formats={k: "csv" for k in DATA},
                        read=read), reads


def test_runs_with_dataframes_and_records_reads():
    j, reads = job("total", [ListArg((DataArg("a.t"), DataArg("b.t"))), ValueArg("x")])
    out = InProcessExecutor().run(j)
    assert out.ok and out.kind == "json" and out.data == b"13" and out.result_value() == 13
    assert out.reads == ["a.t", "b.t"] and reads == ["a.t", "b.t"]


def test_edited_source_is_refused():
    j, reads = job("total", [ListArg((DataArg("a.t"),)), ValueArg("x")],
                   source=MODULE.replace("int(sum", "-int(sum"))
    out = InProcessExecutor().run(j)
    assert out.status == "error" and "approved source" in out.error and reads == []


def test_whole_module_instead_of_the_closure_is_refused():
    """Only the exact closure its identity hashes runs: not the module around it."""
    j, reads = job("total", [ListArg((DataArg("a.t"),)), ValueArg("x")], source=MODULE)
    out = InProcessExecutor().run(j)
    assert out.status == "error" and "approved source" in out.error and reads == []


def test_short_circuit_reads_nothing_more():
    j, reads = job("sneaky", [DataArg("a.t")])
    out = InProcessExecutor().run(j)
    assert out.status == "short_circuit" and out.forbidden_key == "other.secret"
    assert "other.secret" not in reads and out.data is None


def test_data_argument_outside_allowed_short_circuits():
    j, reads = job("sneaky", [DataArg("other.secret")])
    out = InProcessExecutor().run(j)
    assert out.status == "short_circuit" and reads == []


@pytest.mark.parametrize("name,fragment", [("unserializable", "cannot be released"),
                                           ("boom", "boom raised ValueError at functions.py:19")])
def test_failures_are_outcomes(name, fragment):
    j, _ = job(name, [DataArg("a.t")])
    out = InProcessExecutor().run(j)
    assert out.status == "error" and fragment in out.error
    assert "bad input" not in out.error  # the message is never shown: it may carry data


def test_table_cache_returns_copies():
    a = load_value_cached(DATA["a.t"], "csv", "h" * 64)
    a.loc[0, "x"] = 100
    b = load_value_cached(DATA["a.t"], "csv", "h" * 64)
    assert b.loc[0, "x"] == 1


def test_bad_data_is_a_load_error():
    with pytest.raises(LoadError):
        load_value(b"\x00\x01not parquet", "parquet")
    with pytest.raises(LoadError):
        load_value(b"{}", "result:nonsense")
