"""`server.workers: 2`: two server processes on one store never lose an approval and never
release twice (issue 11).

Three agents share contracts over the data of all three (each contract needs all three
approvals). Every request opens a connection of its own, so both worker processes (their own
store connection each) take requests: every agent approves every contract, all agents at once;
then every agent executes every contract, all at once (each contract executed three times at
once). Afterwards every acknowledged approval is in the store, each contract was released
exactly once (one release, one `release` audit entry, one result in each recipient's outbox),
every other execution was refused (`already_running`/`already_executed`), and
`dsc audit verify` passes. On PostgreSQL (`tests/pg_support.py`: skipped without a server,
failing under CI=true), the one store several workers may share; on SQLite, `dsc serve` refuses
more than one worker (`serve.check_workers`).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from datastation.client import RemoteError
from datastation.runtime.config import load_config
from datastation.runtime.escrow import Escrow
from pg_support import Schema, server_url
from serving import Served

AGENTS = ("w0", "w1", "w2")
CONTRACTS = 8
LOSING = {"already_running", "already_executed"}


def _scenario() -> str:
    head = "".join(f'agent {a}\ndata {a}.t csv "{a}.csv"\n' for a in AGENTS)
    tables = ", ".join(f"{a}.t" for a in AGENTS)
    names = ", ".join(f'"{a}"' for a in AGENTS)
    union = " UNION ALL ".join(f"SELECT x FROM {a}" for a in AGENTS)
    body = "".join(f'\ncontract c{k} {{\n  by      w0\n  compute sql_tables(query = "SELECT count(*) AS n FROM '
                   f'({union}) WHERE x > {k}", tables = [{tables}], names = [{names}])\n'
                   f"  to      {', '.join(AGENTS)}\n}}\n" for k in range(CONTRACTS))
    return head + body


def _workers(pid: int) -> list[int]:
    """The direct children of process `pid` started by multiprocessing.spawn (uvicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return sorted(found)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@pytest.fixture
def two_workers(tmp_path):
    schema = Schema(server_url())
    served = Served(tmp_path / "site", "  workers: 2\n", extra_top=f"store:\n  url: {schema.url}\n")
    yield served
    served.stop()
    schema.drop()


def test_sqlite_is_served_by_one_worker_only(dsc, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\nserver:\n  workers: 2\n")
    assert dsc("init", "--config", cfg).returncode == 0
    r = dsc("serve", "--config", cfg)
    assert r.returncode == 1 and "server.workers" in r.stderr and "PostgreSQL" in r.stderr
    cfg.write_text(f"escrow_dir: {tmp_path / 'e'}\n")
    r = dsc("serve", "--config", cfg, "--workers", "2")
    assert r.returncode == 1 and "--workers" in r.stderr


def _all_at_once(jobs) -> list[BaseException]:
    errors: list[BaseException] = []
    gate = threading.Barrier(len(jobs))

    def run(job):
        gate.wait()
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_two_workers_lose_no_approval_and_release_once(two_workers, tmp_path):
    served = two_workers
    deadline = time.monotonic() + 30
    while len(_workers(served.proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = _workers(served.proc.pid)
    assert len(workers) == 2, "dsc serve did not start two worker processes"
    cpu0 = {w: _cpu(w) for w in workers}

    clients = {}
    for a in AGENTS:
        c = served.agent(a)
        (tmp_path / f"{a}.csv").write_text("x\n1\n5\n9\n")
        c.add_data(f"{a}.t", tmp_path / f"{a}.csv")
        # a new connection for every request: the kernel hands them to either worker
        c._http = httpx.Client(base_url=served.url, timeout=120,
                               transport=httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0)))
        clients[a] = c
    dsc = tmp_path / "shared.dsc"
    dsc.write_text(_scenario())
    ids = [clients["w0"].propose(dsc, f"c{k}")["contract"]["id"] for k in range(CONTRACTS)]

    acknowledged: set[tuple[str, str]] = set()
    lock = threading.Lock()

    def approve_all(agent):
        def job():
            for cid in ids:
                clients[agent].approve(cid)
                with lock:
                    acknowledged.add((agent, cid))
        return job

    assert _all_at_once([approve_all(a) for a in AGENTS]) == []
    assert len(acknowledged) == len(AGENTS) * CONTRACTS

    outcomes: list[tuple[str, str]] = []

    def execute_all(agent):
        def job():
            for cid in ids:
                try:
                    outcomes.append((cid, clients[agent].execute(cid)["status"]))
                except RemoteError as exc:
                    outcomes.append((cid, exc.code))
        return job

    assert _all_at_once([execute_all(a) for a in AGENTS]) == []
    for cid in ids:
        mine = sorted(code for c, code in outcomes if c == cid)
        assert mine.count("executed") == 1 and set(mine) - {"executed"} <= LOSING, (cid, mine)
        assert clients["w1"].status(cid)["status"] == "executed"
    busy = [w for w in workers if _cpu(w) - cpu0[w] > 0]
    assert len(busy) == 2, "one worker took no request: the test did not exercise two processes"
    served.stop()

    with Escrow.open(load_config(served.config)) as escrow:
        store = escrow.store
        for cid in ids:
            assert {a.agent for a in store.approvals(cid)} == set(AGENTS), "an acknowledged approval was lost"
            releases = store.releases(contract_id=cid)
            assert sorted(r.recipient for r in releases) == sorted(AGENTS), "released twice (or not at all)"
            assert len({r.execution_id for r in releases}) == 1
        released = sorted((e.contract, e.payload["recipient"]) for e in store.audit_entries() if e.kind == "release")
        assert released == sorted((cid, a) for cid in ids for a in AGENTS), "a release entry twice (or missing)"
    for a in AGENTS:  # one result file per contract in each recipient's outbox
        assert len([f for f in (served.root / "escrow" / "outbox" / a).iterdir() if f.is_file()]) == CONTRACTS
    code, out = served.dsc("audit", "verify")
    assert code == 0, out
