"""Propose + approve throughput through the Python API (the `Escrow` facade, as `tests/harness.py`
World uses it), and the listing of one agent's pending contracts.

    python bench/propose_approve.py [--contracts 2000] [--per-bundle 100] [--agents 10] [--runs 5]
                                    [--dir /tmp] [--profile [--profile-lines 40]] [--breakdown]

Each contract is `contract cJ { by aP  compute rows(aS.t)  to aR }` in a generated .dsc file
of `per-bundle` contracts (a proposer sends the same file for each of its contracts, as
`dsc propose FILE NAME` does); every contract is proposed by its proposer (signed request),
then approved by its one source agent (signed approval signature in a signed request). Timed:
the loop of propose + approve, client signing included, on a fresh escrow (SQLite, the
default `synchronous: FULL`) per run; the rate is also given per CPU-second of this process
(`time.process_time`, steadier than wall time on a loaded machine). Then `pending_for` of one agent (the server's
`read.contracts {pending: true}` body) is timed, and `Escrow.warm_decisions` on a newly opened
escrow (what `dsc serve` runs at start-up: every approved contract verified into the decision index).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def scenario(agents: int, start: int, count: int, tag: str = "") -> str:
    lines = [f"# {tag}"] if tag else []
    lines += [f"agent a{i}" for i in range(agents)]
    lines += [f'data a{i}.t csv "a{i}.csv"' for i in range(agents)]
    for j in range(start, start + count):
        p, s, r = j % agents, (j * 7 + 1) % agents, (j * 3 + 2) % agents
        lines.append(f"contract c{j} {{\n  by a{p}\n  compute rows(a{s}.t)\n  to a{r}\n}}")
    return "\n".join(lines) + "\n"


def contract_parts(j: int, agents: int) -> tuple[str, str]:
    """(proposer, source agent) of contract cJ."""
    return f"a{j % agents}", f"a{(j * 7 + 1) % agents}"


def build(root: Path, agents: int, n: int, per_bundle: int, *, config=None):
    """A World with `agents` agents and their data, and the bundles of `n` contracts (files never
    seen by this process before: a comment names the folder, so no run reuses an earlier run's
    checked file from the escrow's cache of checked bundles)."""
    from harness import World

    from datastation.runtime.escrow import make_bundle

    w = World(root, config=config)
    w.agent(*[f"a{i}" for i in range(agents)])
    for i in range(agents):
        w.data(f"a{i}.t", b"x,y\n1,2\n3,4\n")
    bundles = []
    for b, start in enumerate(range(0, n, per_bundle)):
        f = root / f"b{b}.dsc"
        f.write_text(scenario(agents, start, min(per_bundle, n - start), tag=str(root)))
        bundles.append((start, min(per_bundle, n - start), make_bundle(f)))
    return w, bundles


def propose_approve_all(w, bundles, agents: int) -> list[str]:
    from datastation.runtime.escrow import APPROVE, PROPOSE, propose_params

    e = w.escrow
    ids = []
    for start, count, bundle in bundles:
        for j in range(start, start + count):
            proposer, source = contract_parts(j, agents)
            row = e.propose(e.sign_as(proposer, PROPOSE, propose_params(bundle, f"c{j}"))).row
            e.approve(e.sign_as(source, APPROVE, e.approval_params(source, row.id)))
            ids.append(row.id)
    return ids


def propose_approve_batched(w, bundles, agents: int, batch: int) -> list[str]:
    """The same contracts proposed with `contract.propose_many` (each proposer's contracts of a
    bundle, `batch` per request) and approved with `contract.approve_many` (each source agent's
    contracts, `batch` per request, each approval its own signature), client signing included."""
    from datastation.runtime.escrow import APPROVE_MANY, PROPOSE_MANY, propose_many_params

    e = w.escrow
    ids = []
    for start, count, bundle in bundles:
        by_proposer: dict[str, list[str]] = {}
        for j in range(start, start + count):
            by_proposer.setdefault(contract_parts(j, agents)[0], []).append(f"c{j}")
        to_approve: dict[str, list[str]] = {}
        for proposer, names in by_proposer.items():
            for k in range(0, len(names), batch):
                chunk = names[k:k + batch]
                for name, p in zip(chunk, e.propose_many(e.sign_as(proposer, PROPOSE_MANY,
                                                                  propose_many_params(bundle, chunk)))):
                    to_approve.setdefault(contract_parts(int(name[1:]), agents)[1], []).append(p.row.id)
        for source, cids in to_approve.items():
            for k in range(0, len(cids), batch):
                chunk = cids[k:k + batch]
                e.approve_many(e.sign_as(source, APPROVE_MANY,
                                         {"approvals": [e.approval_params(source, c) for c in chunk]}))
                ids.extend(chunk)
    return ids


def breakdown(root: Path, agents: int, n: int, per_bundle: int) -> str:
    """SQL statements of one propose and of one approve (SQLite trace), and the CPU time of the
    Ed25519 signatures and verifications (client and escrow) over `n` contracts, the first
    bundle excluded (its check is paid once)."""
    from datastation.runtime import audit, keys
    from datastation.runtime.escrow import APPROVE, PROPOSE, lifecycle, propose_params

    ops = {"sign": [0, 0.0], "verify": [0, 0.0]}

    def timed(name, fn):
        def run(*args, **kw):
            t = time.process_time()
            try:
                return fn(*args, **kw)
            finally:
                ops[name][0] += 1
                ops[name][1] += time.process_time() - t
        return run

    originals = [(m, f, getattr(m, f)) for m in (keys, audit, lifecycle) for f in ("sign", "verify") if hasattr(m, f)]
    for m, f, fn in originals:
        setattr(m, f, timed(f, fn))
    w, bundles = build(root, agents, n, per_bundle)
    try:
        propose_approve_all(w, bundles[:1], agents)
        e, stmts = w.escrow, []
        j = bundles[1][0]
        proposer, source = contract_parts(j, agents)
        req = e.sign_as(proposer, PROPOSE, propose_params(bundles[1][2], f"c{j}"))
        e.store._db.set_trace_callback(stmts.append)
        row = e.propose(req).row
        proposed = len(stmts)
        req = e.sign_as(source, APPROVE, e.approval_params(source, row.id))
        e.approve(req)
        e.store._db.set_trace_callback(None)
        rest = [(s, c - 1 if s == j else c, b) for s, c, b in bundles[1:]]  # cJ was done above
        rest = [(j + 1 if s == j else s, c, b) for s, c, b in rest]
        for v in ops.values():
            v[:] = [0, 0.0]
        t = time.process_time()
        propose_approve_all(w, rest, agents)
        total = time.process_time() - t
    finally:
        w.close()
        for m, f, fn in originals:
            setattr(m, f, fn)
    k = sum(c for _, c, _ in rest)
    crypto = ops["sign"][1] + ops["verify"][1]
    return (f"SQL statements: propose {proposed}, approve {len(stmts) - proposed}\n"
            f"CPU per contract {total / k * 1e3:.2f} ms over {k} contracts: Ed25519 {ops['sign'][0] / k:.1f} signatures + "
            f"{ops['verify'][0] / k:.1f} verifications {crypto / k * 1e3:.2f} ms ({crypto / total:.0%}), the rest "
            f"{(total - crypto) / k * 1e3:.2f} ms")


def warm_time(config) -> float:
    """Seconds `Escrow.warm_decisions` takes on a newly opened escrow of `config` (all verified)."""
    from datastation.runtime.escrow import Escrow

    with Escrow.open(config) as e:
        t = time.perf_counter()
        verified, refused = e.warm_decisions()
        took = time.perf_counter() - t
    assert refused == 0 and verified > 0, (verified, refused)
    return took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contracts", type=int, default=2000)
    ap.add_argument("--per-bundle", type=int, default=100)
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=0,
                    help="propose and approve with propose_many / approve_many, this many contracts per request "
                         "(0: one request per contract)")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--breakdown", action="store_true",
                    help="only count the SQL statements of one propose and one approve, and time Ed25519")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--profile-lines", type=int, default=40, help="lines of the profile shown (with --profile)")
    a = ap.parse_args(argv)

    if a.breakdown:
        with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
            print(breakdown(Path(tmp), a.agents, a.contracts, a.per_bundle))
        return 0
    rates, cpu_rates, listings, warms = [], [], [], []
    for run in range(a.runs):
        with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
            w, bundles = build(Path(tmp), a.agents, a.contracts, a.per_bundle)
            try:
                if a.profile and run == 0:
                    import cProfile
                    import pstats

                    prof = cProfile.Profile()
                    prof.enable()
                t, c = time.perf_counter(), time.process_time()
                if a.batch:
                    propose_approve_batched(w, bundles, a.agents, a.batch)
                else:
                    propose_approve_all(w, bundles, a.agents)
                dt, dc = time.perf_counter() - t, time.process_time() - c
                if a.profile and run == 0:
                    prof.disable()
                    pstats.Stats(prof).sort_stats("cumulative").print_stats(a.profile_lines)
                rates.append(a.contracts / dt)
                cpu_rates.append(a.contracts / dc)
                t = time.perf_counter()
                from datastation.runtime.escrow.lifecycle import pending_for

                pending_for(w.escrow.ctx, "a3")
                listings.append((time.perf_counter() - t) * 1000)
                warms.append(warm_time(w.config))
            finally:
                w.close()
        print(f"run {run + 1}: {rates[-1]:,.0f} contracts/s (propose + approve; {cpu_rates[-1]:,.0f} per CPU-second "
              f"of this process), pending_for {listings[-1]:.2f} ms, warm_decisions {warms[-1]:.2f} s", flush=True)
    print(f"propose+approve, {a.contracts:,} contracts in bundles of {a.per_bundle}: median {statistics.median(rates):,.0f}"
          f"/s  best {max(rates):,.0f}/s  (runs: {', '.join(f'{r:,.0f}' for r in rates)}); per CPU-second: median "
          f"{statistics.median(cpu_rates):,.0f}  best {max(cpu_rates):,.0f}")
    print(f"pending_for one agent at {a.contracts:,} contracts: median {statistics.median(listings):.2f} ms  "
          f"best {min(listings):.2f} ms")
    print(f"warm_decisions at {a.contracts:,} approved contracts: median {statistics.median(warms):.2f} s  best "
          f"{min(warms):.2f} s  ({statistics.median(warms) / a.contracts * 1e6:,.0f} µs per contract)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
