"""The escrow's real release decision at scale: a signed execute request arriving at the `Escrow`
facade, timed up to the decision (refused as awaiting approval, or the go-ahead), with 1,000 and
100,000 contracts in the store; and the server's listing of one agent's pending contracts.

    python bench/release_decision.py [--contracts 1000,100000] [--queries 2000] [--rounds 5]
                                     [--agents 1000] [--per-bundle 50] [--dir /dev/shm] [--seed 1]
                                     [--compare]

Setup (timed apart, not the path measured), through the public facade only: `agents` agents
(keys made in their keyring, registered), each with one data element (`data.add`, signed); the
agents in groups of 10, each group's contracts `compute rows(aS.t) to aR` by a member of the group
written `per-bundle` to one .dsc file (identical bundles are checked once: `bundle.py`), each
proposed by a signed `contract.propose`; half of them (at random) approved by their source agent
with a signed `contract.approve` (its approval signature verified as any other).

Timed, per query, with `perf_counter_ns` through `execution.PROBE` (a hook the execute path calls):
  request   the facade call up to the body of the action: transaction begun, envelope,
            Ed25519 signature, key bound by the log (remembered per agent), window, nonce spent;
  decision  from there to the verdict (`execution.decide`): the verified entry in memory and
            the contract's status there; a refusal confirmed against the committed log head
            without a statement while no other connection committed (SQLite's data_version,
            read as the transaction began), else by reading the head (one primary-key row);
            a go-ahead from memory taken without a statement (it is not
            final: before anything runs it is decided again from the store and checked in full,
            untimed here: the run is stopped at the go-ahead, the transaction rolls back);
  total     the whole facade call (for refusals: rollback and the audited refusal entry).
`queries` (contract, recipient) pairs drawn from the store, half approved, half awaiting; round
0 builds the index entries (the *cold* decision: full derivation, approvals verified); then
`rounds` passes over the same queries (each request freshly signed): medians per round, then
the median and best of the rounds.

`--compare`: `rounds` more passes in which each query is sent twice, in alternating order: as
above, and decided as before deciding from memory (`execution.decide_in_store`: the store's row
and log head read on every decision; the key binding looked up in the log on every request);
the ratios of the two p50s, per round, measured side by side under the same load.

Pending listing: for 200 agents, `Store.pending_for(agent)` and what the server's
`POST /v1/contracts` with `{"pending": true}` does (`Escrow.contracts_for` on a signed request,
then `server.api._contracts`: each row with the approvals it waits for), `rounds` passes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

GROUP = 10  # agents per group: a bundle names only its group's agents and data


class _Stop(Exception):
    pass


def _members(g: int) -> list[str]:
    return [f"a{g * GROUP + i}" for i in range(GROUP)]


def _contract(j: int, g: int, groups: int) -> tuple[str, str, str, str]:
    """(name, proposer, source agent, recipient) of contract j in group g (j % groups == g)."""
    m, q = _members(g), j // groups
    return f"c{j}", m[q % GROUP], m[(q * 7 + 1) % GROUP], m[(q * 3 + 2) % GROUP]


def _bundle_text(g: int, js: list[int], groups: int) -> str:
    m = _members(g)
    lines = [f"agent {a}" for a in m] + [f'data {a}.t csv "{a}.csv"' for a in m]
    for j in js:
        name, by, src, to = _contract(j, g, groups)
        lines.append(f"contract {name} {{\n  by {by}\n  compute rows({src}.t)\n  to {to}\n}}")
    return "\n".join(lines) + "\n"


def setup(root: Path, agents: int, n: int, per_bundle: int, seed: int):
    from harness import World

    from datastation.runtime.escrow import APPROVE, PROPOSE, make_bundle, propose_params

    w = World(root)
    names = [f"a{i}" for i in range(agents)]
    w.agent(*names)
    for a in names:
        w.data(f"{a}.t", b"x,y\n1,2\n3,4\n")
    e = w.escrow
    groups = agents // GROUP
    rnd = random.Random(seed)
    out = []  # (contract id, recipient, approved)
    by_group: dict[int, list[int]] = {}
    for j in range(n):
        by_group.setdefault(j % groups, []).append(j)
    f = root / "bundle.dsc"
    done, t0 = 0, time.perf_counter()
    for g, js in sorted(by_group.items()):
        for k in range(0, len(js), per_bundle):
            chunk = js[k:k + per_bundle]
            f.write_text(_bundle_text(g, chunk, groups))
            bundle = make_bundle(f)
            for j in chunk:
                name, by, src, to = _contract(j, g, groups)
                row = e.propose(e.sign_as(by, PROPOSE, propose_params(bundle, name))).row
                approved = rnd.random() < 0.5
                if approved:
                    e.approve(e.sign_as(src, APPROVE, e.approval_params(src, row.id)))
                out.append((row.id, to, approved))
            done += len(chunk)
            if done % 10_000 < len(chunk):
                print(f"  setup: {done:,} contracts proposed ({done / (time.perf_counter() - t0):.0f}/s)", flush=True)
    return w, out


def p(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] / 1000


def run(n: int, a, base: Path) -> dict:
    from datastation.runtime import audit
    from datastation.runtime.escrow import EXECUTE, EscrowRefusal
    from datastation.runtime.escrow import execution

    with tempfile.TemporaryDirectory(dir=base) as tmp:
        t0 = time.perf_counter()
        w, contracts = setup(Path(tmp), a.agents, n, a.per_bundle, a.seed)
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
            memory_decide = execution.decide

            def one(cid, who, approved, per_call=False):
                """(outcome, request ns, decision ns, whole call ns) of one signed execute request;
                `per_call`: decided as before this change (the store read on every decision and
                the key binding looked up in the log on every request)."""
                bound = e.store.memo(audit.BOUND_KEYS)
                kept = dict(bound) if per_call else None
                if per_call:
                    execution.decide = execution.decide_in_store
                    bound.clear()  # looked up afresh (the remembered bindings put back after)
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
                finally:
                    execution.decide = memory_decide
                    if per_call:
                        bound.clear()
                        bound.update(kept)
                end = clock()
                decided = marks.get("decided", marks.get("refused"))
                return outcome, marks["verified"] - t, decided - marks["verified"], end - t

            rounds = []
            cold = []
            outcomes: dict = {}
            for r in range(a.rounds + 1):  # round 0 builds the index entries (cold)
                req_t, dec_t, tot_t = {True: [], False: []}, {True: [], False: []}, {True: [], False: []}
                for cid, who, approved in queries:
                    outcome, rq, dc, tot = one(cid, who, approved)
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
                    if r == 0:
                        cold.append(dc)
                        continue
                    req_t[approved].append(rq)
                    dec_t[approved].append(dc)
                    tot_t[approved].append(tot)
                if r:
                    rounds.append({k: {"request": p(req_t[k], .5), "decision": p(dec_t[k], .5),
                                       "decision_p99": p(dec_t[k], .99), "total": p(tot_t[k], .5)}
                                   for k in (True, False)})
            if a.profile:
                profile_requests(e, queries)
            compare = []
            for r in range(a.rounds if a.compare else 0):  # before/after interleaved, query by query
                xs = {(k, pc): {"request": [], "decision": []} for k in (True, False) for pc in (False, True)}
                for i, (cid, who, approved) in enumerate(queries):
                    for pc in ((False, True) if (i + r) % 2 else (True, False)):
                        outcome, rq, dc, _ = one(cid, who, approved, per_call=pc)
                        xs[approved, pc]["request"].append(rq)
                        xs[approved, pc]["decision"].append(dc)
                compare.append({k: {m: p(v, .5) for m, v in d.items()} for k, d in xs.items()})
            execution.PROBE = None
            listing = pending_listing(w, a)
            return {"n": n, "listing": listing, "compare": compare, "load": os.getloadavg(), "setup": t_setup, "cold": p(cold, .5), "rounds": rounds, "outcomes": outcomes,
                    "index": dict(e.ctx.decisions.stats), "entries": len(e.ctx.decisions.entries)}
        finally:
            execution.PROBE = None
            w.close()


def profile_requests(e, queries) -> None:
    """Where request verification spends its time (cProfile over 300 requests, in transactions)."""
    import cProfile
    import pstats

    from datastation.runtime.escrow import EXECUTE

    reqs = [e.sign_as(who, EXECUTE, {"contract": cid}) for cid, who, _ in queries[:300]]
    prof = cProfile.Profile()
    prof.enable()
    for req in reqs:
        with e.ctx.store.transaction():
            e.ctx.verify(req, EXECUTE)
    prof.disable()
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(12)


def pending_listing(w, a) -> dict:
    """p50 (ms) per round of `Store.pending_for` and of the server's pending listing, for 200 agents."""
    from datastation.runtime.escrow.actions import READ_CONTRACTS
    from datastation.runtime.server.api import _contracts

    e = w.escrow
    agents = [f"a{i}" for i in range(0, a.agents, max(1, a.agents // 200))]
    store_t, server_t, sizes = [], [], []
    for _ in range(a.rounds):
        st, sv = [], []
        for who in agents:
            req = e.sign_as(who, READ_CONTRACTS, {"pending": True})
            t = time.perf_counter_ns()
            rows = e.store.pending_for(who)
            t1 = time.perf_counter_ns()
            out = _contracts(e, e.contracts_for(req))
            t2 = time.perf_counter_ns()
            assert len(out) == len(rows)
            sizes.append(len(rows))
            st.append(t1 - t)
            sv.append(t2 - t1)
        store_t.append((p(st, .5) / 1000, p(st, .99) / 1000))
        server_t.append((p(sv, .5) / 1000, p(sv, .99) / 1000))
    return {"store": store_t, "server": server_t, "rows": statistics.median(sizes), "agents": len(agents)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contracts", default="1000,100000")
    ap.add_argument("--per-bundle", type=int, default=50)
    ap.add_argument("--profile", action="store_true", help="profile request verification after the rounds")
    ap.add_argument("--compare", action="store_true",
                    help="also time the decision as before this change, interleaved query by query")
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
        print(f"{n:>7,} contracts  setup {res['setup']:.1f} s ({n / res['setup']:.0f} contracts/s)  "
              f"load average {res['load'][0]:.2f} {res['load'][1]:.2f} {res['load'][2]:.2f}  outcomes {res['outcomes']}  index {res['index']} "
              f"entries {res['entries']:,}")
        print(f"          cold decision (entry built: full derivation, approvals verified) p50 {res['cold']:.1f} µs")
        for approved, label in ((False, "awaiting approval (refused)"), (True, "approved (go-ahead)")):
            per = [rd[approved] for rd in res["rounds"]]
            for key, name in (("decision", "decision p50"), ("decision_p99", "decision p99"),
                              ("request", "request verification p50"), ("total", "whole call p50")):
                xs = [x[key] for x in per]
                print(f"          {label:<28} {name:<25} median {statistics.median(xs):8.1f} µs  best {min(xs):8.1f} µs"
                      f"  (rounds: {', '.join(f'{x:.1f}' for x in xs)})")
        for approved, label in ((False, "awaiting approval (refused)"), (True, "approved (go-ahead)")):
            for m in ("decision", "request"):
                if not res["compare"]:
                    break
                new = [c[approved, False][m] for c in res["compare"]]
                old = [c[approved, True][m] for c in res["compare"]]
                ratio = [o / n for o, n in zip(old, new)]
                print(f"          interleaved {label:<28} {m:<8} p50 per call (before) median "
                      f"{statistics.median(old):7.1f} µs / from memory (after) {statistics.median(new):7.1f} µs"
                      f" = {statistics.median(ratio):5.1f}x (rounds: {', '.join(f'{x:.1f}' for x in ratio)})")
        li = res["listing"]
        for key, name in (("store", "Store.pending_for"), ("server", "server pending listing")):
            p50s = [x[0] for x in li[key]]
            p99s = [x[1] for x in li[key]]
            print(f"          {name:<28} ({li['agents']} agents, median {li['rows']:.0f} rows) p50 median "
                  f"{statistics.median(p50s):7.3f} ms best {min(p50s):7.3f} ms; p99 median {statistics.median(p99s):7.3f} ms")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
