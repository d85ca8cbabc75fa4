"""The Docker executor behind the escrow's executor interface gives the in-process results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from datastation.contracts.functions import function_source, function_source_in_text, stdlib_functions
from datastation.runtime.executors.base import DataArg, ExecutionJob, FunctionRef, ListArg, ValueArg
from datastation.runtime.executors.inprocess import InProcessExecutor

pytestmark = pytest.mark.docker

HERE = Path(__file__).resolve().parent
FRAUD = HERE.parents[1] / "examples" / "fraud"

DATA = {
    "bank1.tx": b"id,amount,is_fraud\n1,10.5,0\n2,32.25,1\n3,7,0\n",
    "bank2.tx": b"id,amount,is_fraud\n4,1.5,0\n5,99,1\n",
}


def user_ref(path: Path, name: str) -> FunctionRef:
    text = path.read_text()
    src = function_source_in_text(text, path.name, name)
    # what the escrow hands an executor: the function's closure, exactly the text its identity hashes
    return FunctionRef(name=name, origin="user", source_hash=src.sha256, module_name=path.name,
                       module_source=src.closure)


def stdlib_ref(name: str) -> FunctionRef:
    src = function_source(stdlib_functions()[name], name, "stdlib")
    return FunctionRef(name=name, origin="stdlib", source_hash=src.sha256, module_name="")


def job(ref, args=(), kwargs=(), allowed=("bank1.tx", "bank2.tx"), state=None, phase="compute", data=DATA):
    reads = []

    def read(key):
        reads.append(key)
        return data[key]

    j = ExecutionJob(contract_id="c" * 64, contract_name="t", function=ref, args=tuple(args), kwargs=tuple(kwargs),
                     allowed=frozenset(allowed), formats={k: "csv" for k in data}, read=read, state=state, phase=phase)
    return j, reads


@pytest.fixture(scope="module")
def executor(runtime_image):
    from datastation.runtime.executors.docker import DockerExecutor, Limits

    return DockerExecutor(limits=Limits(image=runtime_image, timeout_seconds=120), warm_pool=1)


def both(executor, make):
    j1, _ = make()
    j2, _ = make()
    return InProcessExecutor().run(j1), executor.run(j2)


def test_stdlib_builtin_equals_in_process(executor):
    full, sandboxed = both(executor, lambda: job(stdlib_ref("rows"), [DataArg("bank1.tx")]))
    assert sandboxed.status == "ok", sandboxed.error
    assert sandboxed.result_value() == full.result_value() == 3


@pytest.mark.skipif(not (FRAUD / "data" / "bank1_train.csv").exists(), reason="fraud example data missing")
def test_user_model_over_two_tables_equals_in_process(executor):
    data = {k: (FRAUD / "data" / f"{k.replace('.', '_')}.csv").read_bytes() for k in ("bank1.train", "bank2.train")}
    make = lambda: job(user_ref(FRAUD / "functions.py", "fraud_model"),  # noqa: E731
                       kwargs=[("train", ListArg((DataArg("bank1.train"), DataArg("bank2.train")))),
                               ("label", ValueArg("is_fraud"))], allowed=tuple(data), data=data)
    full, sandboxed = both(executor, make)
    assert sandboxed.status == "ok", sandboxed.error
    assert (sandboxed.kind, sandboxed.data) == (full.kind, full.data)


def test_table_result_round_trips_as_parquet(executor):
    full, sandboxed = both(executor, lambda: job(stdlib_ref("sql"), [
        ValueArg("select a.id, a.amount, b.amount as other from a join b on a.is_fraud = b.is_fraud order by a.id"),
        DataArg("bank1.tx"), DataArg("bank2.tx")]))
    assert full.status == "ok", full.error
    assert sandboxed.status == "ok", sandboxed.error
    assert sandboxed.kind == "table"
    pd.testing.assert_frame_equal(sandboxed.result_value(), full.result_value())


def test_condition_calls_with_evaluated_values(executor):
    table = pd.read_csv(__import__("io").BytesIO(DATA["bank1.tx"]))
    j, reads = job(stdlib_ref("rows"), [table], phase="ensure")
    out = executor.run(j)
    assert out.status == "ok", out.error
    assert out.result_value() == 3 and reads == []


def test_edited_source_is_refused_before_anything_runs(executor, tmp_path):
    mod = tmp_path / "functions.py"
    mod.write_text("def f(t):\n    return 1\n")
    ref = user_ref(mod, "f")
    tampered = FunctionRef(name="f", origin="user", source_hash=ref.source_hash, module_name="functions.py",
                           module_source="def f(t):\n    return 2\n")
    j, reads = job(tampered, [DataArg("bank1.tx")])
    out = executor.run(j)
    assert out.status == "error" and reads == []


def test_bound_key_outside_allowed_short_circuits_without_reading(executor):
    j, reads = job(stdlib_ref("rows"), [DataArg("bank2.tx")], allowed=("bank1.tx",))
    out = executor.run(j)
    assert (out.status, out.forbidden_key, reads) == ("short_circuit", "bank2.tx", [])


def test_app_state_is_carried_back(executor):
    from datastation.runtime.app_state import AppState

    state = AppState("contract:test")
    j, _ = job(user_ref(HERE / "hostile.py", "count_runs"), [DataArg("bank1.tx")], state=state)
    out = executor.run(j)
    assert out.status == "ok", out.error
    assert out.result_value() == {"runs": 1, "rows": 3}
    assert state.load("runs") == 1
    j2, _ = job(user_ref(HERE / "hostile.py", "count_runs"), [DataArg("bank2.tx")], state=state)
    assert executor.run(j2).result_value() == {"runs": 2, "rows": 2}


def test_streaming_read_into_stages_inputs_without_bytes(executor):
    from dataclasses import dataclass
    from typing import Callable

    @dataclass(frozen=True)
    class StreamingJob(ExecutionJob):
        read_into: Callable | None = None

    staged = []

    def read_into(key, path):
        staged.append(key)
        Path(path).write_bytes(DATA[key])

    j = StreamingJob(contract_id="c" * 64, contract_name="t", function=stdlib_ref("rows"), args=(DataArg("bank2.tx"),),
                     allowed=frozenset(DATA), formats={k: "csv" for k in DATA}, read=None, read_into=read_into)
    out = executor.run(j)
    assert (out.status, out.result_value(), staged) == ("ok", 2, ["bank2.tx"])
