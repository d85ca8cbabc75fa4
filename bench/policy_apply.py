"""`policy.apply` by an owner with very many open contracts, and what another party waits meanwhile:

    python bench/policy_apply.py --escrow PATH [--owner a5] [--rounds 5] [--dir /dev/shm]
    python bench/policy_apply.py --build PATH [--contracts 100000] [--heavy 100000] [--owner a5]

`--build` makes the escrow (untimed, kept in PATH): `bench/agent_reads.py`'s (`contracts`
contracts among 1,000 agents, half approved), then `heavy` proposes `--heavy` contracts over the
owner's data (nobody's consent needed): the owner has that many pending contracts.

Timed, each round on a fresh copy of PATH: the owner's signed `policy.apply` through the facade
(a policy allowing `rows` on its data: every pending contract approved), the whole call; and, in
another process on the same escrow, another agent's signed `read.status` (a write transaction:
its nonce is spent) sent one after the other for as long as the apply runs: how long each waited
(the store's write lock is what they share). Reported: the apply's median and best, and over
the rounds the longest wait and the p99 of the other party's requests, and how many it got in.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PROBER = "a7"  # another agent of the escrow, reading the status of one of its own contracts


def probe(e, ready, stop, waits: list) -> None:
    """`prober`'s loop on escrow facade `e` (shared with the apply, as the server's threads share it)."""
    from datastation.runtime.escrow.actions import READ_CONTRACTS, READ_STATUS

    cid = e.contracts_for(e.sign_as(PROBER, READ_CONTRACTS, {"limit": 1}))[0].id
    e.status_for(e.sign_as(PROBER, READ_STATUS, {"contract": cid}))  # warm
    ready.set()
    while not stop.is_set():
        req = e.sign_as(PROBER, READ_STATUS, {"contract": cid})
        t = time.perf_counter()
        e.status_for(req)
        waits.append((time.perf_counter() - t) * 1000)
        time.sleep(0.002)


def prober(root: str, ready, stop, out) -> None:
    """`probe` in another process, on its own escrow facade of the same escrow."""
    from harness import World

    w = World(Path(root))
    waits: list[float] = []
    probe(w.escrow, ready, stop, waits)
    w.close()
    out.put(json.dumps(waits))


def one_round(src: Path, work: Path, owner: str, where: str) -> tuple[float, list[float], int]:
    """(ms of the apply, ms of each of the other party's reads meanwhile, decisions): the reads
    from a thread on the same facade (`thread`: as `dsc serve` runs requests) or from another
    process on the same escrow (`process`: `dsc` beside it)."""
    import threading

    from harness import World

    from datastation.runtime.escrow import POLICY_APPLY, policy_params

    dst = work / "escrow"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    w = World(dst)
    waits: list[float] = []
    if where == "thread":
        ready, stop = threading.Event(), threading.Event()
        p = threading.Thread(target=probe, args=(w.escrow, ready, stop, waits))
    else:
        ctx = multiprocessing.get_context("spawn")
        ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
        p = ctx.Process(target=prober, args=(str(dst), ready, stop, out))
    p.start()
    ready.wait(120)
    f = dst / "policy.dsc"
    f.write_text(f"agent {owner}\npolicy {owner} {{\n  allow rows on {owner}.* to any\n}}\n")
    req = w.escrow.sign_as(owner, POLICY_APPLY, policy_params(f))
    t = time.perf_counter()
    res = w.escrow.apply_policy(req)
    took = (time.perf_counter() - t) * 1000
    stop.set()
    if where == "process":
        waits = json.loads(out.get(timeout=120))
    p.join(60)
    w.close()
    return took, waits, len(res.decisions)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--escrow", default=None, help="a kept escrow (made with --build): copied for each round")
    ap.add_argument("--build", default=None, help="make the escrow in this folder and keep it there")
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--heavy", type=int, default=100_000)
    ap.add_argument("--owner", default="a5")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--prober", choices=("thread", "process"), default="thread",
                    help="the other party's reads from a thread on the same facade (as `dsc serve`) or another process")
    a = ap.parse_args(argv)
    if a.build:
        import agent_reads

        w = agent_reads.build(Path(a.build), 1000, a.contracts, 100)
        agent_reads.heavy(w, a.heavy, 1, a.owner)
        w.close()
        print(f"built {a.build}")
        return 0
    if not a.escrow:
        ap.error("give --escrow PATH (made with --build PATH)")
    applies, waits, decided = [], [], 0
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        for _ in range(a.rounds):
            took, got, decided = one_round(Path(a.escrow), Path(tmp), a.owner, a.prober)
            applies.append(took)
            waits.append(got)
            print(f"  policy.apply {took:9.0f} ms ({decided:,} decisions); {PROBER}'s reads meanwhile: {len(got)}, "
                  f"longest {max(got or [0]):8.1f} ms", flush=True)
    every = sorted(x for got in waits for x in got)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))] if every else 0.0
    print(f"policy.apply over {decided:,} pending contracts of {a.owner}: median {statistics.median(applies):,.0f} ms, "
          f"best {min(applies):,.0f} ms ({a.rounds} rounds)")
    print(f"another party's signed read meanwhile: longest wait, median over rounds "
          f"{statistics.median(max(g or [0]) for g in waits):,.1f} ms (worst {max(max(g or [0]) for g in waits):,.1f}); "
          f"p99 {p99:,.1f} ms; {statistics.median(len(g) for g in waits):,.0f} reads per apply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
