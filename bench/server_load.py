"""Load on `dsc serve` over 127.0.0.1: concurrent agents proposing, approving, executing, reading.

    python bench/server_load.py                                  # 50 clients, SQLite (synchronous FULL)
    python bench/server_load.py --sync NORMAL                    # SQLite, synchronous NORMAL
    python bench/server_load.py --store postgresql://USER:PW@127.0.0.1:5432/DB   # PostgreSQL
    python bench/server_load.py --store URL --workers 2          # two server processes on one PostgreSQL store
    python bench/server_load.py --clients 8 --per-client 5 --runs 3              # a quick one
    python bench/server_load.py --rate 300 --per-client 20 --actions propose,approve   # 300 approvals/s, open loop

Starts `dsc serve` itself on a free port, on a fresh escrow in a temporary directory (on
PostgreSQL: in a fresh schema of the database, dropped at the end), and stops it at the end.
`--clients` agents are invited and register their own keys (each its own keyring); each uploads
a small data element. Each agent has a .dsc file of its own with `--per-client` trivial
contracts per run (`rows(aNN.t)`, to itself), checked once on its side (its identities).

Each run has four phases, one after the other; in a phase every client thread (its own
`datastation.client.Client`, its own connection, signing every request with its own key) sends
`--per-client` requests of one kind, all clients at once:

- propose: a signed `contract.propose` (bundle, contract name, expected identity);
- approve: the agent's approval signature over (escrow id, contract id), in a signed
  `contract.approve` (the only approval needed: the contract becomes `approved`);
- execute: a signed `contract.execute` by the recipient: decision, run, release;
- status: a signed `read.status`.

Prints, per action, requests/s per run (median and best), p50/p99 latency over all runs and the
server's CPU per request (its process and worker processes, over that action's phases),
the load average before and after (the machine may be shared: compare within one run), and
the CPU the server (its worker processes included) and the clients used. The first line names
the HTTP parser and event loop uvicorn picks (httptools and uvloop when installed, else h11 and
asyncio).

`--rate R` runs each phase open loop: the clients together send R requests per second on a
fixed schedule, each latency counted from the request's scheduled time (a request its client
could not send on time, waiting for its previous answer, counts the wait); it also prints how
late the client threads woke to send a request they were free to send (the generator's own
delay, part of the latency).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

ACTIONS = ("propose", "approve", "execute", "status")


def scenario(agent: str, names: list[str]) -> str:
    body = "".join(f"\ncontract {n} {{\n  by      {agent}\n  compute rows({agent}.t)\n  to      {agent}\n}}\n"
                   for n in names)
    return f'agent {agent}\n\ndata {agent}.t csv "{agent}.csv"\n{body}'


class Party:
    """One load client: an agent with its own key, its .dsc file and the identities of its contracts."""

    def __init__(self, client, path: Path, names: list[str]):
        from datastation.contracts.identity import identity
        from datastation.contracts.loading import load_checked
        from datastation.runtime.escrow.bundle import make_bundle

        self.client = client
        loaded = load_checked(str(path))
        assert loaded.ok, [d.message for d in loaded.errors]
        self.bundle = make_bundle(path)
        self.ids = {n: identity(loaded.scenario, n).sha256 for n in names}

    def propose(self, name: str) -> dict:
        from datastation.runtime.escrow.actions import PROPOSE

        return self.client._post("/v1/contracts/propose", PROPOSE,
                                 {"bundle": self.bundle, "contract": name, "identity": self.ids[name]})

    def approve(self, name: str) -> dict:
        from datastation.runtime.escrow.actions import APPROVE
        from datastation.runtime.keys import approval_message, sign

        c = self.client
        cid = self.ids[name]
        signature = sign(c._private_key(), approval_message(c.escrow_id, cid))
        return c._post("/v1/contracts/approve", APPROVE, {"contract": cid, "signature": signature})

    def execute(self, name: str) -> dict:
        return self.client.execute(self.ids[name])

    def status(self, name: str) -> dict:
        return self.client.status(self.ids[name])


def run_phase(parties: list[Party], action: str, names: list[str],
              rate: float | None = None) -> tuple[float, list[float], list[float]]:
    """(requests per second, latencies, wake-up lags) of `action` on each of `names` from every
    party at once.

    Without `rate` each client sends its next request when the last is answered (closed loop:
    the throughput is the most the server gives 50 waiting clients, the latency follows from it).
    With `rate` the clients together send `rate` requests per second on a fixed schedule (request
    k of client i at start + (k * clients + i) / rate; open loop): a latency runs from the
    request's scheduled time, so a request that waited for its client's previous answer counts
    the wait too (no coordinated omission). A wake-up lag is how late a client thread sent a
    request it was free to send (after its scheduled time and its previous answer): the
    generator's own delay (its threads queue for its interpreter), counted in the latency too."""
    latencies: list[list[float]] = [[] for _ in parties]
    lags: list[list[float]] = [[] for _ in parties]
    errors: list[BaseException] = []
    gate = threading.Barrier(len(parties) + 1)
    start = 0.0  # set before the gate opens, read by the clients after it

    def work(i: int, party: Party) -> None:
        call = getattr(party, action)
        gate.wait()
        done = 0.0
        try:
            for k, n in enumerate(names):
                if rate is None:
                    t = time.perf_counter()
                else:
                    t = start + (k * len(parties) + i) / rate
                    time.sleep(max(0.0, t - time.perf_counter()))
                    lags[i].append(time.perf_counter() - max(t, done))
                call(n)
                done = time.perf_counter()
                latencies[i].append(done - t)
        except BaseException as exc:  # reported after the phase
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, p)) for i, p in enumerate(parties)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.05
    gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    flat = [x for lat in latencies for x in lat]
    return len(flat) / elapsed, flat, [x for lag in lags for x in lag]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process (its threads) or of process `pid` (Linux /proc)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def steal_ticks() -> tuple[int, int]:
    """(steal, total) CPU ticks of the machine since boot (/proc/stat): time a virtual machine's
    CPUs were ready to run but the host ran something else."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return fields[7], sum(fields)


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds of `dsc serve` (pid) and of its worker processes (its direct children; the
    executions' child processes of a worker are not counted)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                total += cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass  # a process that ended meanwhile
    return total


def http_impl() -> str:
    """The HTTP parser and event loop uvicorn picks here ('auto': httptools and uvloop if installed)."""
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{http}, {'uvloop' if importlib.util.find_spec('uvloop') else 'asyncio'}"


def setup(root: Path, served, clients: int, names: list[str]) -> list[Party]:
    parties = []
    for i in range(clients):
        agent = f"a{i:02d}"
        c = served.agent(agent)
        (root / f"{agent}.csv").write_text("x,y\n1,2\n3,4\n")
        c.add_data(f"{agent}.t", root / f"{agent}.csv")
        (root / f"{agent}.dsc").write_text(scenario(agent, names))
        parties.append(Party(c, root / f"{agent}.dsc", names))
    return parties


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--per-client", type=int, default=10, help="contracts per client and run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--store", help="postgresql://... URL (a fresh schema is made in it); default SQLite")
    ap.add_argument("--sync", default="FULL", choices=("FULL", "NORMAL"), help="SQLite synchronous pragma")
    ap.add_argument("--workers", type=int, default=1, help="server.workers: server processes")
    ap.add_argument("--threads", type=int, default=None, help="server.threads (default: the server's default)")
    ap.add_argument("--rate", type=float, default=None,
                    help="open loop: the clients together send this many requests/s on a fixed schedule "
                         "(latency from each request's scheduled time); default closed loop")
    ap.add_argument("--actions", default=",".join(ACTIONS),
                    help="the phases run (a comma-separated subset of " + ",".join(ACTIONS) + "; always in that order)")
    args = ap.parse_args(argv)
    actions = tuple(a for a in ACTIONS if a in args.actions.split(","))
    if not actions or set(args.actions.split(",")) - set(ACTIONS):
        ap.error(f"--actions: a comma-separated subset of {','.join(ACTIONS)}")

    from serving import Served

    top, schema = f"store:\n  synchronous: {args.sync}\n", None
    if args.store:
        from pg_support import Schema

        schema = Schema(args.store)
        top = f"store:\n  url: {schema.url}\n"
    per_run = [[f"c{r}_{k}" for k in range(args.per_client)] for r in range(args.runs + 1)]
    try:
        with tempfile.TemporaryDirectory(prefix="dsc-bench-load-") as tmp:
            root = Path(tmp)
            os.environ["DSC_KEYRING"] = str(root / "operator-keys")
            server = f"  max_request_bytes: 1048576\n  workers: {args.workers}\n"
            if args.threads:
                server += f"  threads: {args.threads}\n"
            served = Served(root / "site", server, extra_top=top)
            try:
                parties = setup(root, served, args.clients, [n for names in per_run for n in names])
                run_phase(parties, "propose", per_run[0][:1])  # warm: each bundle checked once, connections open
                load0 = os.getloadavg()
                store = "PostgreSQL" if args.store else f"SQLite synchronous {args.sync}"
                print(f"dsc serve on 127.0.0.1 ({store}, {args.workers} worker(s), {http_impl()}), "
                      f"{args.clients} clients x {args.per_client} contracts, "
                      f"{args.runs} runs, {f'open loop at {args.rate:g} requests/s' if args.rate else 'closed loop'}; load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
                cpu0 = cpu_seconds(), server_cpu_seconds(served.proc.pid), time.perf_counter()
                steal0 = steal_ticks()
                rates = {a: [] for a in actions}
                lats = {a: [] for a in actions}
                wake_lags = {a: [] for a in actions}
                server_cpu_of = {a: 0.0 for a in actions}
                for names in per_run[1:]:
                    for action in actions:
                        before = server_cpu_seconds(served.proc.pid)
                        rate, lat, lag = run_phase(parties, action, names, args.rate)
                        wake_lags[action] += lag
                        server_cpu_of[action] += server_cpu_seconds(served.proc.pid) - before
                        rates[action].append(rate)
                        lats[action] += lat
                for a in actions:
                    print(f"{a:<8} median {statistics.median(rates[a]):6.0f} req/s  best {max(rates[a]):6.0f} req/s  "
                          f"p50 {pct(lats[a], 50) * 1e3:6.1f} ms  p99 {pct(lats[a], 99) * 1e3:6.1f} ms  "
                          f"server CPU {server_cpu_of[a] / len(lats[a]) * 1e3:4.2f} ms/request  "
                          + (f"clients' wake-up lag p99 {pct(wake_lags[a], 99) * 1e3:5.1f} ms max "
                             f"{max(wake_lags[a]) * 1e3:5.1f} ms  " if wake_lags[a] else "")
                          + f"(runs: {', '.join(f'{r:.0f}' for r in rates[a])})")
                wall = time.perf_counter() - cpu0[2]
                clients_cpu, server_cpu = cpu_seconds() - cpu0[0], server_cpu_seconds(served.proc.pid) - cpu0[1]
                load1 = os.getloadavg()
                steal1 = steal_ticks()
                steal = (steal1[0] - steal0[0]) / max(1, steal1[1] - steal0[1])
                print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; CPU over {wall:.0f} s of "
                      f"load: server {server_cpu:.0f} s ({server_cpu / wall:.0%} of a core), clients {clients_cpu:.0f} s "
                      f"({clients_cpu / wall:.0%}); functions run in child processes, not counted; CPU stolen by the "
                      f"host {steal:.1%}")
            finally:
                served.stop()
    finally:
        if schema is not None:
            schema.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
