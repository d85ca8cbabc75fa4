"""A remote execution tells its stages as the escrow begins them (`Accept: application/x-ndjson`,
runtime/server/stages.py): through `datastation.client` and `dsc execute --escrow`. A refusal is
still an ordinary error answer with its HTTP status; without the header the answer is the report."""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from datastation.runtime.client import RemoteError
from datastation.runtime.escrow.actions import EXECUTE

COUNT_DSC = """
agent alice
data alice.t csv "t.csv"
contract count {
  by      alice
  compute rows(alice.t)
  to      alice
}
contract count_again {
  by      alice
  compute rows(alice.t)
  to      alice
  require rows(alice.t) > 1000
}
"""


@pytest.fixture
def alice(served, tmp_path):
    a = served.agent("alice")
    (tmp_path / "t.csv").write_text("x,y\n1,2\n3,4\n")
    a.add_data("alice.t", tmp_path / "t.csv")
    (tmp_path / "c.dsc").write_text(COUNT_DSC)
    return a, tmp_path / "c.dsc"


def _approved(client, path: Path, name: str) -> str:
    cid = client.propose(path, name)["contract"]["id"]
    client.approve(cid)
    return cid


def test_the_client_is_told_each_stage_then_gets_the_report(alice):
    a, path = alice
    cid = _approved(a, path, "count")
    stages = []
    rep = a.execute(cid, progress=stages.append)
    assert rep["status"] == "executed" and rep["contract"] == cid
    assert stages == ["compute", "release"]  # no require, no ensure: those stages are not run
    assert a.status(cid)["status"] == "executed"


def test_a_failed_require_streams_the_stages_it_reached_and_its_report(alice):
    a, path = alice
    cid = _approved(a, path, "count_again")
    stages = []
    rep = a.execute(cid, progress=stages.append)
    assert rep["status"] == "failed"
    assert stages == ["require"]  # it ran no further


def test_a_refusal_is_an_ordinary_error_answer(alice):
    a, path = alice
    cid = a.propose(path, "count")["contract"]["id"]  # not approved
    with pytest.raises(RemoteError) as exc:
        a.execute(cid, progress=lambda s: None)
    assert exc.value.code == "awaiting_approval" and exc.value.status == 409
    # and on the wire: JSON with the code, not a stream
    resp = httpx.post(a.url + "/v1/contracts/execute", content=a.sign(EXECUTE, {"contract": cid}).to_json(),
                      headers={"Content-Type": "application/json", "Accept": "application/x-ndjson"})
    assert resp.status_code == 409 and resp.json()["code"] == "awaiting_approval"


def test_on_the_wire_one_json_object_per_line_and_the_plain_answer_without_the_header(alice):
    a, path = alice
    cid = _approved(a, path, "count")
    headers = {"Content-Type": "application/json", "Accept": "application/x-ndjson"}
    with httpx.stream("POST", a.url + "/v1/contracts/execute", headers=headers,
                      content=a.sign(EXECUTE, {"contract": cid}).to_json()) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in resp.iter_lines() if line.strip()]
    assert [m["stage"] for m in lines[:-1]] == ["compute", "release"]
    assert lines[-1]["report"]["status"] == "executed"
    cid2 = _approved(a, path, "count_again")
    resp = httpx.post(a.url + "/v1/contracts/execute", content=a.sign(EXECUTE, {"contract": cid2}).to_json(),
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 200 and resp.json()["status"] == "failed"


def test_dsc_execute_against_a_server_shows_every_stage(served, alice):
    a, path = alice
    cid = _approved(a, path, "count")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSC_")}
    env.update(HOME=str(a.home), DSC_ESCROW=served.url, PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    proc = subprocess.run(["dsc", "execute", cid[:12], "--as", "alice"], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    shown = [line.split(":")[1].strip() for line in proc.stderr.splitlines() if line.startswith("execute: ")]
    assert shown == ["verifying", "compute", "release"], proc.stderr
    assert "executed" in proc.stdout
