"""Two OS processes on one PostgreSQL store: no approval is lost, nothing is released twice.

Each worker (`pg_worker.py`) is a separate Python process with its own connection, opening the
same escrow; both start at one signal and work through the same contracts.
"""

import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from datastation.runtime.audit import verify_log
from datastation.runtime.config import config_from_dict
from harness import World

FIXTURES = Path(__file__).parents[2] / "contracts" / "fixtures"
WORKER = Path(__file__).with_name("pg_worker.py")

CONTRACT = """
contract joint_{i} {{
  by      bank1
  compute fraud_model(train = [bank1.train, bank2.train], label = "is_fraud")
  to      bank1, bank2
}}
"""


@pytest.fixture
def world(tmp_path, postgres_url):
    """The bank fixture's escrow on a PostgreSQL store, with `n` more contracts to propose."""
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    config = config_from_dict({"store": {"url": postgres_url}}, tmp_path)
    w = World(tmp_path, src / "bank.dsc", config)
    w.setup_from_file()
    w.url = postgres_url
    yield w
    w.close()


def propose(world, n):
    world.dsc.write_text(world.dsc.read_text() + "".join(CONTRACT.format(i=i) for i in range(n)))
    return [world.propose(f"joint_{i}", "bank1").id for i in range(n)]


def race(world, tmp_path, jobs):
    """Run one worker per (mode, agent, ids) at once; their outcomes, in order."""
    go = tmp_path / "go"
    procs, outs, readies = [], [], []
    for n, (mode, agent, ids) in enumerate(jobs):
        spec = {"mode": mode, "agent": agent, "ids": ids, "root": str(world.root), "dsc": str(world.dsc),
                "url": world.url, "ready": str(tmp_path / f"ready{n}"), "go": str(go), "out": str(tmp_path / f"out{n}")}
        (tmp_path / f"spec{n}.json").write_text(json.dumps(spec))
        procs.append(subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / f"spec{n}.json")],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        outs.append(Path(spec["out"]))
        readies.append(Path(spec["ready"]))
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
            [p.communicate()[1].decode()[-2000:] for p in procs if p.poll() is not None]
        time.sleep(0.01)
    go.write_text("go")
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-3000:]
    return [json.loads(o.read_text()) for o in outs]


def test_approvals_from_two_processes_are_all_recorded(world, tmp_path):
    ids = propose(world, 30)
    by_bank1, by_bank2 = race(world, tmp_path, [("approve", "bank1", ids), ("approve", "bank2", ids)])
    # every approval was accepted, and exactly one of each pair saw the contract complete
    assert set(by_bank1) | set(by_bank2) <= {"pending", "approved"}
    for cid, a, b in zip(ids, by_bank1, by_bank2):
        assert sorted([a, b]) == ["approved", "pending"], cid
        assert sorted(x.agent for x in world.store.approvals(cid)) == ["bank1", "bank2"]
        assert world.store.get_contract(cid).status == "approved"
    kinds = Counter(e.kind for e in world.store.audit_entries())
    assert kinds["approval"] == 2 * len(ids)
    assert verify_log(world.store, world.escrow.ctx.escrow_public_pem).ok  # one unbroken chain


def test_two_processes_racing_to_execute_release_once(world, tmp_path):
    ids = propose(world, 4)
    for cid in ids:
        world.approve(cid, "bank1")
        assert world.approve(cid, "bank2").status == "approved"
    first, second = race(world, tmp_path, [("execute", "bank1", ids), ("execute", "bank2", ids)])
    for cid, a, b in zip(ids, first, second):
        assert "executed" in (a, b) and (a, b).count("executed") == 1, (a, b)
        assert {a, b} - {"executed"} <= {"refused:already_running", "refused:already_executed"}
        releases = world.store.releases(contract_id=cid)
        assert sorted(r.recipient for r in releases) == ["bank1", "bank2"]  # one release to each recipient
        assert len({r.execution_id for r in releases}) == 1
        assert [e.status for e in world.store.executions(cid)].count("executed") == 1
        assert world.store.get_contract(cid).status == "executed"
    assert Counter(e.kind for e in world.store.audit_entries())["release"] == 2 * len(ids)
    assert verify_log(world.store, world.escrow.ctx.escrow_public_pem).ok


def test_two_processes_claiming_the_same_contracts_win_each_once(world, tmp_path):
    """The store's claim alone (no run lock in between): one atomic compare-and-set per contract."""
    ids = propose(world, 40)
    for cid in ids:
        world.store.set_contract_status(cid, "approved")
    one, two = race(world, tmp_path, [("claim", None, ids), ("claim", None, ids)])
    assert [a + b for a, b in zip(one, two)] == [1] * len(ids)
    assert {world.store.get_contract(cid).status for cid in ids} == {"running"}
