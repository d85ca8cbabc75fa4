"""An agent's signed reads at scale, through the `Escrow` facade (what the server's `/v1/contracts`,
`/v1/audit/entries` and `/v1/data` run, and `dsc contracts|audit|data list --escrow URL`):

    python bench/agent_reads.py [--contracts 100000] [--agents 1000] [--per-bundle 100]
                                [--readers 20] [--rounds 5] [--dir /dev/shm] [--keep PATH]
                                [--store postgresql://USER:PASSWORD@HOST/DB] [--heavy 100000] [--victim a5]

Setup (untimed): `agents` agents, each with one data element, in groups of 10; each group's
contracts `compute rows(aS.t) to aR` proposed from .dsc files of `per-bundle` contracts
(`contract.propose_many` per proposer) and half of them approved (`contract.approve_many`).
`--keep PATH` keeps the escrow there (and reuses it when PATH exists: setup skipped; the
policies are not applied then, so that the kept escrow stays as built).

Timed, for `readers` agents spread over the escrow, `rounds` passes, each request freshly signed
(the whole facade call: signature, nonce spent, the read, in the one write transaction):
  read.contracts             every contract the agent is party to (about 300 at 100,000)
  read.contracts pending     those waiting for its approval
  read.contracts approved    those of one status
  read.audit                 the first page (1,000) of the log entries it may read
  read.audit after the end   a page after the last entry (nothing to show)
  read.data                  its data elements
Reported per read: the median over rounds of the p50 over readers, and the best round. Then
`policy.apply` (signed, through the facade) by `readers` agents, each a policy allowing `rows` on
its data: the owner's open contracts are found and decided in the action's one transaction (the
whole call timed, its approvals written; median and best over the agents). `--heavy N`: then
one agent proposes N contracts over another's data (nobody's consent needed) and the reads of
both are timed (a page of contracts, the pending ones, a page of the log, one entry of it, the
2nd and the 20th page of it); `--victim a5`: over the data of an agent with its history.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def build(root: Path, agents: int, n: int, per_bundle: int, config=None):
    """The escrow of the module docstring in `root` (a harness World), built with batches."""
    from harness import World
    from release_decision import GROUP, _bundle_text, _contract

    from datastation.runtime.escrow import APPROVE_MANY, PROPOSE_MANY, make_bundle, propose_many_params

    w = World(root, config=config)
    names = [f"a{i}" for i in range(agents)]
    w.agent(*names)
    for a in names:
        w.data(f"{a}.t", b"x,y\n1,2\n3,4\n")
    e, groups, rnd = w.escrow, agents // GROUP, random.Random(1)
    by_group: dict[int, list[int]] = {}
    for j in range(n):
        by_group.setdefault(j % groups, []).append(j)
    f, t0, done = root / "bundle.dsc", time.perf_counter(), 0
    for g, js in sorted(by_group.items()):
        for k in range(0, len(js), per_bundle):
            chunk = js[k:k + per_bundle]
            f.write_text(_bundle_text(g, chunk, groups))
            bundle = make_bundle(f)
            by_proposer: dict[str, list[tuple[str, str]]] = {}
            for j in chunk:
                name, by, src, _ = _contract(j, g, groups)
                by_proposer.setdefault(by, []).append((name, src))
            to_approve: dict[str, list[str]] = {}
            for by, items in by_proposer.items():
                req = e.sign_as(by, PROPOSE_MANY, propose_many_params(bundle, [name for name, _ in items]))
                for (_, src), p in zip(items, e.propose_many(req)):
                    if rnd.random() < 0.5:
                        to_approve.setdefault(src, []).append(p.row.id)
            for src, cids in to_approve.items():
                e.approve_many(e.sign_as(src, APPROVE_MANY, {"approvals": [e.approval_params(src, c) for c in cids]}))
            done += len(chunk)
            if done % 20_000 < len(chunk):
                print(f"  setup: {done:,} contracts ({done / (time.perf_counter() - t0):.0f}/s)", flush=True)
    return w


def reads(e, who: str, last_seq: int) -> dict:
    from datastation.runtime.escrow.actions import READ_AUDIT, READ_CONTRACTS, READ_DATA

    return {
        "read.contracts": lambda: e.contracts_for(e.sign_as(who, READ_CONTRACTS, {})),
        "read.contracts pending": lambda: e.contracts_for(e.sign_as(who, READ_CONTRACTS, {"pending": True})),
        "read.contracts approved": lambda: e.contracts_for(e.sign_as(who, READ_CONTRACTS, {"status": "approved"})),
        "read.audit": lambda: e.audit_for(e.sign_as(who, READ_AUDIT, {})),
        "read.audit after the end": lambda: e.audit_for(e.sign_as(who, READ_AUDIT, {"after": last_seq})),
        "read.data": lambda: e.data_for(e.sign_as(who, READ_DATA, {})),
    }


def measure(w, agents: int, readers: int, rounds: int) -> dict[str, list[float]]:
    """{read: [p50 ms of each round]}, and the rows the first reader got."""
    e = w.escrow
    who = [f"a{i}" for i in range(0, agents, max(1, agents // readers))][:readers]
    last = e.store.audit_count() + 10
    per_round: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        times: dict[str, list[float]] = {}
        for agent in who:
            for name, call in reads(e, agent, last).items():
                t = time.perf_counter()
                out = call()
                times.setdefault(name, []).append((time.perf_counter() - t) * 1000)
                sizes.setdefault(name, len(out))
        for name, xs in times.items():
            per_round.setdefault(name, []).append(statistics.median(xs))
    return per_round, sizes


def policy_applies(w, agents: int, readers: int) -> list[float]:
    """ms of each `policy.apply` (the escrow changes: run after the reads)."""
    from datastation.runtime.escrow import POLICY_APPLY, policy_params

    e, out = w.escrow, []
    for i, who in enumerate([f"a{i}" for i in range(1, agents, max(1, agents // readers))][:readers]):
        f = w.root / f"policy-{who}.dsc"
        f.write_text(f"agent {who}\npolicy {who} {{\n  allow rows on {who}.* to any\n}}\n")
        req = e.sign_as(who, POLICY_APPLY, policy_params(f))
        t = time.perf_counter()
        e.apply_policy(req)
        out.append((time.perf_counter() - t) * 1000)
    return out


def heavy(w, n: int, rounds: int, victim: str = "victim") -> dict[str, list[float]]:
    """One agent (`heavy`) proposes `n` contracts over another's data (`victim`, a new agent, or
    one of the escrow's, with its history), 1,000 per request (nobody's consent needed); then ms
    of each read of either, `rounds` times."""
    from datastation.runtime.escrow import PROPOSE_MANY, make_bundle, propose_many_params
    from datastation.runtime.escrow.actions import READ_AUDIT, READ_CONTRACTS

    e = w.escrow
    w.agent("heavy")
    w.data("heavy.t", b"x\n1\n")
    if victim == "victim":
        w.agent("victim")
        w.data("victim.t", b"x\n1\n")
    f = w.root / "heavy.dsc"
    for b in range(0, n, 1000):
        names = [f"h{i}" for i in range(b, min(n, b + 1000))]
        f.write_text(f'agent heavy\nagent {victim}\ndata heavy.t csv "h.csv"\ndata {victim}.t csv "v.csv"\n' + "".join(
            f"contract {c} {{\n  by heavy\n  compute rows({victim}.t)\n  to heavy\n}}\n" for c in names))
        e.propose_many(e.sign_as("heavy", PROPOSE_MANY, propose_many_params(make_bundle(f), names)))
    out: dict[str, list[float]] = {}
    for who in ("heavy", victim):
        pages = [e.audit_for(e.sign_as(who, READ_AUDIT, {}))]  # the cursors of the 2nd and the 20th page
        while len(pages) < 19 and len(pages[-1]) == 1000:
            pages.append(e.audit_for(e.sign_as(who, READ_AUDIT, {"after": pages[-1][-1].seq})))
        pages = [p for p in pages if p] or [[]]  # (a log of a whole number of pages ends with an empty one)
        for label, action, params in (("read.contracts (a page)", READ_CONTRACTS, {}),
                                      ("read.contracts pending", READ_CONTRACTS, {"pending": True}),
                                      ("read.audit", READ_AUDIT, {}), ("read.audit limit 1", READ_AUDIT, {"limit": 1}),
                                      ("read.audit 2nd page", READ_AUDIT, {"after": pages[0][-1].seq if pages[0] else 0}),
                                      ("read.audit 20th page", READ_AUDIT,
                                       {"after": pages[-1][-1].seq if pages[-1] else 0})):
            call = e.contracts_for if action == READ_CONTRACTS else e.audit_for
            for _ in range(rounds):
                req = e.sign_as(who, action, params)
                t = time.perf_counter()
                call(req)
                out.setdefault(f"{who}: {label}", []).append((time.perf_counter() - t) * 1000)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contracts", type=int, default=100_000)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--per-bundle", type=int, default=100)
    ap.add_argument("--readers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", default=None, help="keep the escrow in this folder (reused when it exists)")
    ap.add_argument("--store", default=None, help="a postgresql:// URL (an empty database): the store there")
    ap.add_argument("--heavy", type=int, default=0,
                    help="then one agent proposes this many contracts over another's data: both agents' reads")
    ap.add_argument("--victim", default="victim",
                    help="whose data --heavy proposes over: a new agent (default) or one of the escrow's (a5)")
    a = ap.parse_args(argv)

    from harness import World

    from datastation.runtime.config import Config, config_from_dict

    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        root = Path(a.keep) if a.keep else Path(tmp) / "escrow"
        config = config_from_dict({"store": {"url": a.store}}, root) if a.store else Config()
        t = time.perf_counter()
        w = World(root, config=config) if (root / "escrow").exists() else \
            build(root, a.agents, a.contracts, a.per_bundle, config)
        print(f"{a.contracts:,} contracts, {a.agents:,} agents: escrow ready in {time.perf_counter() - t:.1f} s "
              f"({w.store.audit_count():,} log entries)", flush=True)
        try:
            per_round, sizes = measure(w, a.agents, a.readers, a.rounds)
            applies = policy_applies(w, a.agents, a.readers) if not a.keep else []
            heavies = heavy(w, a.heavy, a.rounds, a.victim) if a.heavy and not a.keep else {}
        finally:
            w.close()
    for name, xs in per_round.items():
        print(f"{name:<26} p50 over {a.readers} agents: median of {a.rounds} rounds {statistics.median(xs):9.2f} ms"
              f"  best {min(xs):9.2f} ms  (rows for a0: {sizes[name]})")
    if applies:
        print(f"{'policy.apply':<26} {len(applies)} agents: median {statistics.median(applies):9.2f} ms  best "
              f"{min(applies):9.2f} ms")
    for name, xs in heavies.items():
        print(f"{a.heavy:,} contracts of heavy over {a.victim}'s data, {name:<32} median {statistics.median(xs):8.2f} ms"
              f"  best {min(xs):8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
