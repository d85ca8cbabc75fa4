"""Signed requests per second through the real HTTP path of `dsc serve` (127.0.0.1).

    python bench/server_load.py [--clients 8] [--requests 100] [--runs 5]

Starts `dsc serve` on a fresh escrow in a temporary directory, registers alice and bob through
invitations, adds a small data element each, and has alice propose `count_b` (on bob's data,
result to alice) which bob has not approved. Then, `--runs` times, `--clients` threads (each its
own `datastation.client.Client`, its own connection) send `--requests` requests each, of:

- status: a signed `read.status` of the contract (verified, nonce spent, authorized, answered);
- release decision: a signed `contract.execute` by alice, which the escrow verifies, derives
  the contract's facts for, re-verifies the approvals of and decides: `409 awaiting_approval`
  (the refusal audited) - the release decision as a request reaches it, without running a
  function.

Prints requests/second per run (median and best over the runs) and the latency p50/p99 over
every request. Everything stops by itself; the server is ended at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SCENARIO = """agent alice
agent bob

data alice.t csv "a.csv"
data bob.t csv "b.csv"

contract count_b {
  by      alice
  compute rows(bob.t)
  to      alice
}
"""


def measure(clients, call, per_client: int) -> tuple[float, list[float]]:
    """(requests per second, latencies) of `per_client` calls from each client, all at once."""
    latencies: list[list[float]] = [[] for _ in clients]
    errors: list[BaseException] = []
    start_gate = threading.Barrier(len(clients) + 1)

    def work(i, client):
        start_gate.wait()
        try:
            for _ in range(per_client):
                t = time.perf_counter()
                call(client)
                latencies[i].append(time.perf_counter() - t)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    flat = [x for lat in latencies for x in lat]
    return len(flat) / elapsed, flat


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=100, help="requests per client and run")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import os

    from datastation.client import Client, RemoteError
    from serving import Served

    with tempfile.TemporaryDirectory(prefix="dsc-bench-serve-") as tmp:
        root = Path(tmp)
        os.environ["DSC_KEYRING"] = str(root / "operator-keys")
        served = Served(root / "site", "  max_request_bytes: 1048576\n")
        try:
            (root / "a.csv").write_text("x,y\n1,2\n")
            (root / "b.csv").write_text("x,y\n3,4\n5,6\n")
            (root / "s.dsc").write_text(SCENARIO)
            alice, bob = served.agent("alice"), served.agent("bob")
            alice.add_data("alice.t", root / "a.csv")
            bob.add_data("bob.t", root / "b.csv")
            cid = alice.propose(root / "s.dsc", "count_b")["contract"]["id"]
            clients = [Client(served.url, "alice", keyring=alice.keyring) for _ in range(args.clients)]

            def status(c):
                c.status(cid)

            def decision(c):
                try:
                    c.execute(cid)
                except RemoteError as exc:
                    if exc.code != "awaiting_approval":
                        raise
                else:
                    raise AssertionError("the contract ran: it was never approved")

            for c in clients:  # warm: keys loaded, connections open, escrow id fetched
                status(c)
                decision(c)
            print(f"dsc serve on 127.0.0.1, {args.clients} clients x {args.requests} requests, {args.runs} runs")
            for name, call in (("signed status read", status), ("release decision (execute)", decision)):
                rates, lats = [], []
                for _ in range(args.runs):
                    rate, lat = measure(clients, call, args.requests)
                    rates.append(rate)
                    lats += lat
                print(f"{name:<28} median {statistics.median(rates):7.0f} req/s  best {max(rates):7.0f} req/s  "
                      f"p50 {pct(lats, 50) * 1e3:6.1f} ms  p99 {pct(lats, 99) * 1e3:6.1f} ms  "
                      f"(runs: {', '.join(f'{r:.0f}' for r in rates)})")
            for c in clients:
                c.close()
        finally:
            served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
