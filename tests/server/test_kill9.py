"""`kill -9` of `dsc serve` under load loses no acknowledged action, and the audit log verifies.

Six agents (each its own key) propose and approve trivial contracts against a `dsc serve`
subprocess as fast as they can; the server is SIGKILLed mid-load, started again on the same
escrow, and every proposal and approval the server acknowledged (HTTP 200) must be in the store;
`dsc audit verify` must pass. On SQLite and on PostgreSQL (`tests/pg_support.py`: skipped without
a server, failing under CI=true).
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from datastation.contracts.identity import identity
from datastation.contracts.loading import load_checked
from datastation.runtime.config import load_config
from datastation.runtime.escrow import Escrow
from datastation.runtime.escrow.actions import APPROVE, PROPOSE
from datastation.runtime.escrow.bundle import make_bundle
from datastation.runtime.keys import approval_message, sign
from pg_support import Schema, server_url
from serving import Served

AGENTS = 6
CONTRACTS = 60  # per agent: more than the load reaches before the kill


def _scenario(agent: str) -> str:
    body = "".join(f"\ncontract c{k} {{\n  by {agent}\n  compute rows({agent}.t)\n  to {agent}\n}}\n"
                   for k in range(CONTRACTS))
    return f'agent {agent}\n\ndata {agent}.t csv "{agent}.csv"\n{body}'


@pytest.fixture(params=["sqlite", "postgresql"])
def store_served(request, tmp_path):
    """`dsc serve` on SQLite (synchronous FULL, the default) or on a fresh PostgreSQL schema."""
    schema = Schema(server_url()) if request.param == "postgresql" else None
    served = Served(tmp_path / "site", extra_top=f"store:\n  url: {schema.url}\n" if schema else "")
    yield served
    served.stop()
    if schema is not None:
        schema.drop()


def test_kill9_under_load_loses_no_acknowledged_action(store_served, tmp_path):
    served = store_served
    parties = []
    for i in range(AGENTS):
        agent = f"k{i}"
        c = served.agent(agent)
        (tmp_path / f"{agent}.csv").write_text("x\n1\n2\n")
        c.add_data(f"{agent}.t", tmp_path / f"{agent}.csv")
        path = tmp_path / f"{agent}.dsc"
        path.write_text(_scenario(agent))
        loaded = load_checked(str(path))
        assert loaded.ok
        ids = [identity(loaded.scenario, f"c{k}").sha256 for k in range(CONTRACTS)]
        parties.append((c, make_bundle(path), ids))

    proposed: set[str] = set()  # acknowledged by the server (HTTP 200)
    approved: set[str] = set()
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def load(client, bundle, ids):
        key, escrow_id = client._private_key(), client.escrow_id
        try:
            for k, cid in enumerate(ids):
                client._post("/v1/contracts/propose", PROPOSE, {"bundle": bundle, "contract": f"c{k}", "identity": cid})
                with lock:
                    proposed.add(cid)
                client._post("/v1/contracts/approve", APPROVE,
                             {"contract": cid, "signature": sign(key, approval_message(escrow_id, cid))})
                with lock:
                    approved.add(cid)
        except httpx.TransportError:  # the server died under this request: not acknowledged
            pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            unexpected.append(exc)

    threads = [threading.Thread(target=load, args=p) for p in parties]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(approved) < 30 and time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.02)
    served.kill()  # SIGKILL mid-load
    for t in threads:
        t.join(timeout=30)
    assert not unexpected, unexpected
    assert not any(t.is_alive() for t in threads)
    acked_p, acked_a = set(proposed), set(approved)
    assert len(acked_a) >= 10 and len(acked_p) < AGENTS * CONTRACTS  # killed mid-load, after real work

    served.start()  # the same escrow, the same port
    for client, _, ids in parties:
        seen = {c["id"]: c["status"] for c in client.contracts()}
        mine_p, mine_a = acked_p & set(ids), acked_a & set(ids)
        assert mine_p <= set(seen), "an acknowledged proposal was lost"
        assert all(seen[cid] == "approved" for cid in mine_a), "an acknowledged approval was lost"
    served.stop()

    with Escrow.open(load_config(served.config)) as escrow:
        store = escrow.store
        assert all(store.get_contract(cid) is not None for cid in acked_p)
        assert all(store.approvals(cid) for cid in acked_a)
    code, out = served.dsc("audit", "verify")
    assert code == 0, out
