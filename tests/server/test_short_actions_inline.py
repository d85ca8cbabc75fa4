"""On either store the short signed actions (approve, reject, revoke, status) run on
the server's event loop (`api._signed_route(short=True)`): they are answered while an execution
runs user code, and a refusal among them keeps its code and status."""

import threading
import time

import pytest

from datastation.runtime.client import RemoteError

SLOW_PY = "import time\n\ndef slow(t) -> int:\n    time.sleep(4)\n    return len(t)\n"

DSC = """use "slow.py"
agent alice
data alice.t csv "t.csv"
contract slow_count {
  by      alice
  compute slow(t = alice.t)
  to      alice
}
contract count {
  by      alice
  compute rows(alice.t)
  to      alice
}
"""


@pytest.fixture
def alice(served, tmp_path):
    a = served.agent("alice")
    (tmp_path / "t.csv").write_text("x,y\n1,2\n3,4\n")
    a.add_data("alice.t", tmp_path / "t.csv")
    (tmp_path / "slow.py").write_text(SLOW_PY)
    (tmp_path / "c.dsc").write_text(DSC)
    return a, tmp_path / "c.dsc"


def test_short_actions_are_answered_while_an_execution_runs(served, alice):
    a, path = alice
    slow = a.propose(path, "slow_count")["contract"]["id"]
    a.approve(slow)
    other = a.propose(path, "count")["contract"]["id"]
    done: list = []
    runner = threading.Thread(target=lambda: done.append(a.execute(slow)))
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while a.status(slow)["status"] != "running":  # status is a short action itself
            assert time.monotonic() < deadline, "the slow execution never started"
            time.sleep(0.05)
        approved = a.approve(other)
        revoked = a.revoke(other)
        still = a.status(slow)["status"]
        with pytest.raises(RemoteError) as exc:
            a.approve(slow)  # already approved: a refusal with its code and status, answered inline too
        assert approved["status"] == "approved" and revoked["status"] == "revoked"
        assert still == "running" and not done  # answered while the execution was still running
        assert exc.value.code in ("already_approved", "closed") and exc.value.status == 409
    finally:
        runner.join(timeout=120)
    assert done and done[0]["status"] == "executed"
