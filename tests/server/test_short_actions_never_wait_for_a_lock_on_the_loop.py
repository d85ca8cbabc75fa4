"""The short signed actions run on the server's event loop only when the store is free (red team
session 15, H54): a request, signed by anyone or by no registered agent, that met the write lock
held by another process (a long transaction of another worker, a CLI on the same database) held
the loop until the lock was released, up to its 30 s timeout, and every other request of that
worker waited. Now it waits in a thread; the loop answers the others meanwhile."""

import sqlite3
import threading
import time

import httpx
import pytest
from pg_support import Schema, server_url
from serving import Served

from datastation.runtime import keys

HOLD = 3.0  # seconds the other process holds the write lock


@pytest.fixture(params=["sqlite", "postgresql"])
def store_served(request, tmp_path):
    schema = Schema(server_url()) if request.param == "postgresql" else None
    served = Served(tmp_path / "site", extra_top=f"store:\n  url: {schema.url}\n" if schema else "")
    yield served, request.param, schema
    served.stop()
    if schema is not None:
        schema.drop()


def _hold_write_lock(backend, served, schema, seconds, held: threading.Event):
    if backend == "sqlite":
        other = sqlite3.connect(served.root / "escrow" / "escrow.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        from datastation.runtime.store import pg_migrations

        other = psycopg.connect(schema.url, autocommit=True)
        other.execute("BEGIN")
        other.execute(pg_migrations.WRITE_LOCK)
    held.set()
    time.sleep(seconds)
    other.execute("ROLLBACK")
    other.close()


@pytest.mark.parametrize("route,action", [("/v1/contracts/approve", "contract.approve"),
                                          ("/v1/contracts/status", "read.status")])
def test_a_request_that_meets_the_write_lock_does_not_stop_the_loop(store_served, route, action):
    served, backend, schema = store_served
    escrow_id = httpx.get(served.url + "/v1/escrow").json()["escrow_id"]
    body = keys.make_request("mallory", keys.generate_key(), action, {"contract": "x" * 64},
                             escrow=escrow_id).to_json()  # no registered agent signed it
    held = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(backend, served, schema, HOLD, held))
    holder.start()
    assert held.wait(30)
    answer: dict = {}

    def post():
        r = httpx.post(served.url + route, content=body, headers={"content-type": "application/json"}, timeout=60)
        answer["status"], answer["code"] = r.status_code, r.json().get("code")

    poster = threading.Thread(target=post)
    started = time.monotonic()
    poster.start()
    time.sleep(0.3)  # the request is waiting for the lock now
    slowest = 0.0
    while poster.is_alive() and time.monotonic() - started < 30:
        t = time.monotonic()
        assert httpx.get(served.url + "/v1/escrow", timeout=30).status_code == 200
        slowest = max(slowest, time.monotonic() - t)
        time.sleep(0.05)
    poster.join()
    holder.join()
    assert answer == {"status": 401, "code": "unknown_agent"}  # answered once the lock was free
    assert slowest < HOLD / 3, f"the event loop was held {slowest:.2f} s by a request waiting for the lock"
