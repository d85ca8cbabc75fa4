"""Issue 10 item 7: user code cannot take the CLI down, and Ctrl-C during `dsc execute` is
recorded: the execution ends `interrupted` (audited), the claim is released, and the contract
may be executed again."""

import json
import signal
import time

import pytest


@pytest.mark.parametrize("contract, raised", [("quits", "SystemExit"), ("raises", "KeyboardInterrupt")])
def test_a_base_exception_of_user_code_ends_the_execution_as_errored(scen, contract, raised):
    cid = scen.approved(contract)
    r = scen("execute", cid, "--as", "bob", "--format", "json")
    assert r.returncode == 1  # nothing released, never the function's own exit code
    rep = json.loads(r.stdout)
    assert rep["status"] == "error" and raised in rep["error"] and rep["number"] == 1
    st = scen.status(cid)
    assert st["status"] == "error" and [e["status"] for e in st["executions"]] == ["error"]
    ends = [e for e in _log(scen, cid) if e["kind"] == "execution" and e["payload"]["phase"] == "end"]
    assert [e["payload"]["status"] for e in ends] == ["error"]


def _log(scen, cid) -> list[dict]:
    r = scen("log", "--contract", cid, "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _interrupt_when_running(scen, cid) -> tuple[int, str]:
    """Start `dsc execute` as a subprocess, wait until the function has its data (audited
    `data_read` of the compute phase), then send SIGINT."""
    before = sum(1 for e in _log(scen, cid) if e["kind"] == "data_read")
    proc = scen.popen("execute", cid, "--as", "bob")
    deadline = time.monotonic() + 60
    while sum(1 for e in _log(scen, cid) if e["kind"] == "data_read") == before:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_ctrl_c_records_the_execution_as_interrupted_and_it_may_run_again(scen):
    cid = scen.approved("slow")
    code, err = _interrupt_when_running(scen, cid)
    assert code == 1 and "interrupted" in err and "Traceback" not in err
    st = scen.status(cid)
    assert st["status"] == "approved"  # the claim is released
    assert [(e["number"], e["status"]) for e in st["executions"]] == [(1, "interrupted")]
    ends = [e for e in _log(scen, cid) if e["kind"] == "execution" and e["payload"]["phase"] == "end"]
    assert [e["payload"]["status"] for e in ends] == ["interrupted"]
    assert not [e for e in _log(scen, cid) if e["kind"] == "recovery"]  # recorded by dsc execute itself
    code, err = _interrupt_when_running(scen, cid)  # executed again: not refused as running or closed
    assert code == 1 and "execution #2" in err
    assert [e["status"] for e in scen.status(cid)["executions"]] == ["interrupted", "interrupted"]
    assert scen("audit", "verify").returncode == 0
