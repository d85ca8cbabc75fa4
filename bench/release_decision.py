"""The escrow's real release decision at scale: a signed execute request arriving at the `Escrow`
facade, timed up to the decision (refused as awaiting approval, or the go-ahead just before
anything would run), with 1,000 / 10,000 / 100,000 contracts in the store.

    python bench/release_decision.py [--contracts 1000,10000,100000] [--queries 2000] [--rounds 5]
                                     [--agents 1000] [--dir /dev/shm] [--seed 1]

Setup (timed apart, not the path measured): a SQLite escrow (`synchronous: FULL`) with
`agents` agents, each with one data element, and `contracts` contracts `compute rows(aS.t)
to aR` proposed by aP, written as `propose` writes them (identity, bundle, provenance: the
escrow's own helpers) in bulk transactions; half of them approved by their source agent
(a real approval signature, verified like any other when the index is built), half
awaiting it.

Timed, per query, with `perf_counter_ns` through `execution.PROBE` (a hook the facade calls):
  request   the facade call up to the body of the action: transaction begun, envelope,
            Ed25519 signature, key bound by the log, timestamp window, nonce spent;
  decision  from there to the verdict: one statement for the contract's status, whether it
            was released and the audit head; the index kept in step with the log; the
            verified entry (built on first use: measured apart as `cold`); recipient, bound
            keys, approvals bitmask, status;
  total     the whole facade call (for refusals: rollback and the audited refusal entry).
`queries` (contract, recipient) pairs drawn from the store, half approved, half awaiting;
the approved ones are stopped by the hook right after the go-ahead (nothing runs, the
transaction rolls back). `rounds` passes over the same queries (each request freshly
signed): medians per round, then the median and best of the rounds.
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


class _Stop(Exception):
    pass


def _scenario(agents: int, start: int, count: int) -> str:
    lines = [f"agent a{i}" for i in range(agents)]
    lines += [f'data a{i}.t csv "a{i}.csv"' for i in range(agents)]
    for j in range(start, start + count):
        lines.append(f"contract c{j} {{\n  by a{j % agents}\n  compute rows(a{(j * 7 + 1) % agents}.t)\n"
                     f"  to a{(j * 3 + 2) % agents}\n}}")
    return "\n".join(lines) + "\n"


def setup(root: Path, agents: int, n: int, seed: int):
    from harness import World

    from datastation.contracts.identity import identity
    from datastation.runtime.escrow import make_bundle
    from datastation.runtime.escrow.bundle import checked_bundle
    from datastation.runtime.escrow.lifecycle import _check_proposable, _contract_row
    from datastation.runtime.keys import approval_message, sign
    from datastation.runtime.store import ApprovalRow

    w = World(root)
    names = [f"a{i}" for i in range(agents)]
    w.agent(*names)
    for a in names:
        w.data(f"{a}.t", b"x,y\n1,2\n3,4\n")
    e, ctx, store = w.escrow, w.escrow.ctx, w.store
    keys = {a: e._key(a) for a in names}
    rnd = random.Random(seed)
    out = []  # (contract id, recipient, approved)
    per = 500
    for start in range(0, n, per):
        f = root / "bundle.dsc"
        f.write_text(_scenario(agents, start, min(per, n - start)))
        bundle = make_bundle(f)
        m = checked_bundle(bundle)
        scenario = m.loaded.scenario
        with store.transaction():
            for j in range(start, min(start + per, n)):
                contract = scenario.contracts[f"c{j}"]
                proposer, source = f"a{j % agents}", f"a{(j * 7 + 1) % agents}"
                ident = identity(scenario, contract)
                inputs, sources = _check_proposable(ctx, scenario, contract, proposer)
                row = _contract_row(m, bundle, scenario, contract, ident, proposer, inputs, sources, time.time())
                store.put_contract(row)
                approved = rnd.random() < 0.5
                if approved:
                    store.add_approval(ApprovalRow(contract_id=row.id, agent=source, ts=time.time(),
                                                   signature=sign(keys[source], approval_message(ctx.escrow_id, row.id))))
                    store.set_contract_status(row.id, "approved")
                out.append((row.id, row.recipients[0], approved))
    return w, out


def p(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] / 1000


def run(n: int, a, base: Path) -> dict:
    from datastation.runtime.escrow import EXECUTE, EscrowRefusal
    from datastation.runtime.escrow import execution

    with tempfile.TemporaryDirectory(dir=base) as tmp:
        t0 = time.perf_counter()
        w, contracts = setup(Path(tmp), a.agents, n, a.seed)
        t_setup = time.perf_counter() - t0
        try:
            e = w.escrow
            rnd = random.Random(a.seed + n)
            queries = [contracts[rnd.randrange(len(contracts))] for _ in range(a.queries)]
            clock = time.perf_counter_ns
            marks: dict = {}

            def probe(phase):
                marks[phase] = clock()
                if phase == "decided" and marks.get("stop"):
                    raise _Stop

            execution.PROBE = probe
            rounds = []
            cold = []
            outcomes: dict = {}
            for r in range(a.rounds + 1):  # round 0 builds the index entries (cold)
                req_t, dec_t, tot_t = {True: [], False: []}, {True: [], False: []}, {True: [], False: []}
                for cid, who, approved in queries:
                    req = e.sign_as(who, EXECUTE, {"contract": cid})
                    marks.clear()
                    marks["stop"] = approved
                    t = clock()
                    try:
                        e.execute(req)
                        outcome = "ran"
                    except _Stop:
                        outcome = "go-ahead"
                    except EscrowRefusal as exc:
                        outcome = exc.code
                    end = clock()
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                    if r == 0:
                        cold.append(marks["decided"] - marks["verified"])
                        continue
                    req_t[approved].append(marks["verified"] - t)
                    dec_t[approved].append(marks["decided"] - marks["verified"])
                    tot_t[approved].append(end - t)
                if r:
                    rounds.append({k: {"request": p(req_t[k], .5), "decision": p(dec_t[k], .5),
                                       "decision_p99": p(dec_t[k], .99), "total": p(tot_t[k], .5)}
                                   for k in (True, False)})
            execution.PROBE = None
            return {"n": n, "setup": t_setup, "cold": p(cold, .5), "rounds": rounds, "outcomes": outcomes,
                    "index": dict(e.ctx.decisions.stats), "entries": len(e.ctx.decisions.entries)}
        finally:
            execution.PROBE = None
            w.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contracts", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    base = Path(a.dir) if a.dir else None
    print(f"release decision on the real path: {a.queries:,} signed execute requests per round, {a.rounds} rounds, "
          f"{a.agents:,} agents", flush=True)
    for n in (int(x) for x in a.contracts.split(",")):
        res = run(n, a, base)
        print(f"{n:>7,} contracts  setup {res['setup']:.1f} s  outcomes {res['outcomes']}  index {res['index']} "
              f"entries {res['entries']:,}")
        print(f"          cold decision (entry built: full derivation, approvals verified) p50 {res['cold']:.1f} µs")
        for approved, label in ((False, "awaiting approval (refused)"), (True, "approved (go-ahead)")):
            per = [rd[approved] for rd in res["rounds"]]
            for key, name in (("decision", "decision p50"), ("decision_p99", "decision p99"),
                              ("request", "request verification p50"), ("total", "whole call p50")):
                xs = [x[key] for x in per]
                print(f"          {label:<28} {name:<25} median {statistics.median(xs):8.1f} µs  best {min(xs):8.1f} µs"
                      f"  (rounds: {', '.join(f'{x:.1f}' for x in xs)})")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
