"""Store operations on SQLite and on PostgreSQL, side by side (same machine, same run).

    python bench/store_ops.py [--postgres URL] [--n 500] [--runs 5]

URL defaults to $DSC_TEST_POSTGRES_URL (`bash .ci/start-postgres.sh` prints one); each run
uses a fresh SQLite file and a fresh PostgreSQL schema. Per operation it prints the median and
the best of the runs of the mean time per call, and the ratio PostgreSQL / SQLite(FULL):

  put_contract     insert a contract (own transaction)
  approve_tx       one approval as the escrow records it: a transaction with the approval row,
                   a signed audit entry and the contract's status
  claim            swap_contract_status approved -> running (own transaction)
  get_contract     read one contract by id
  list_pending     list_contracts(status="pending") with N contracts stored
  escrow_approve   a signed approval through the Escrow facade (verify, nonce, audit), 2 agents
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from datastation.runtime.audit import AuditLog  # noqa: E402
from datastation.runtime.config import config_from_dict  # noqa: E402
from datastation.runtime.keys import generate_key  # noqa: E402
from datastation.runtime.store import ApprovalRow, ContractRow, open_store  # noqa: E402

OPS = ("put_contract", "approve_tx", "claim", "get_contract", "list_pending", "escrow_approve")


def timed(fn, items) -> float:
    t = time.perf_counter()
    for x in items:
        fn(x)
    return (time.perf_counter() - t) / max(1, len(items))


def store_run(config, n: int) -> dict[str, float]:
    store = open_store(config)
    audit = AuditLog(store, generate_key())
    audit.ensure_genesis()
    ids = [uuid.uuid4().hex * 2 for _ in range(n)]
    out = {}
    out["put_contract"] = timed(lambda cid: store.put_contract(ContractRow(
        id=cid, name="c", canonical="{}", proposer="bank1", inputs=("bank1.train", "bank2.train"),
        recipients=("bank1",), source_agents=("bank1", "bank2"))), ids)

    def approve(cid):
        with store.transaction():
            store.add_approval(ApprovalRow(contract_id=cid, agent="bank1", signature="s" * 88))
            audit.append("approval", actor="bank1", contract=cid, payload={"agent": "bank1"})
            store.set_contract_status(cid, "pending")
    out["approve_tx"] = timed(approve, ids)
    out["get_contract"] = timed(store.get_contract, ids)
    out["list_pending"] = timed(lambda _: store.list_contracts(status="pending"), range(20))
    for cid in ids:
        store.set_contract_status(cid, "approved")
    out["claim"] = timed(lambda cid: store.swap_contract_status(cid, "approved", "running"), ids)
    store.close()
    return out


CONTRACT = """
contract joint_{i} {{
  by      bank1
  compute fraud_model(train = [bank1.train, bank2.train], label = "is_fraud")
  to      bank1, bank2
}}
"""


def escrow_run(store_raw: dict, n: int, tmp: Path) -> float:
    from harness import World

    src = tmp / "bank"
    shutil.copytree(ROOT / "tests" / "contracts" / "fixtures", src)
    dsc = src / "bank.dsc"
    dsc.write_text(dsc.read_text() + "".join(CONTRACT.format(i=i) for i in range(n)))
    w = World(tmp / "w", dsc, config_from_dict({"store": store_raw}, tmp))
    try:
        w.setup_from_file()
        ids = [w.propose(f"joint_{i}", "bank1").id for i in range(n)]
        return timed(lambda cid: w.approve(cid, "bank1"), ids)
    finally:
        w.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", default=os.environ.get("DSC_TEST_POSTGRES_URL"))
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--escrow-n", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not args.postgres:
        sys.exit("no PostgreSQL URL: pass --postgres or set DSC_TEST_POSTGRES_URL")
    import psycopg

    results: dict[str, dict[str, list[float]]] = {b: {op: [] for op in OPS} for b in ("sqlite-FULL", "sqlite-NORMAL", "postgresql")}
    for run in range(args.runs):
        for backend in results:  # interleaved, so that load changes hit every backend alike
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d)
                schema = None
                if backend == "postgresql":
                    schema = f"bench_{uuid.uuid4().hex[:12]}"
                    with psycopg.connect(args.postgres, autocommit=True) as c:
                        c.execute(f"CREATE SCHEMA {schema}")
                    store_raw = {"url": f"{args.postgres}{'&' if '?' in args.postgres else '?'}"
                                        f"options=-csearch_path%3D{schema}"}
                else:
                    store_raw = {"synchronous": backend.split("-")[1]}
                try:
                    config = config_from_dict({"store": store_raw}, tmp).with_root(tmp / "s")
                    for op, v in store_run(config, args.n).items():
                        results[backend][op].append(v)
                    if schema:  # a fresh schema for the escrow run
                        with psycopg.connect(args.postgres, autocommit=True) as c:
                            c.execute(f"DROP SCHEMA {schema} CASCADE")
                            c.execute(f"CREATE SCHEMA {schema}")
                    results[backend]["escrow_approve"].append(escrow_run(store_raw, args.escrow_n, tmp))
                finally:
                    if schema:
                        with psycopg.connect(args.postgres, autocommit=True) as c:
                            c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)

    print(f"n={args.n} contracts (escrow_approve: {args.escrow_n}), {args.runs} runs; "
          "mean per call, median of runs (best); ratio = postgresql / sqlite-FULL medians")
    head = f"{'operation':<16}" + "".join(f"{b:>26}" for b in results) + f"{'ratio':>8}"
    print(head)
    for op in OPS:
        cells, med = [], {}
        for b in results:
            xs = results[b][op]
            med[b] = statistics.median(xs)
            cells.append(f"{med[b] * 1e3:9.3f} ms ({min(xs) * 1e3:7.3f})")
        print(f"{op:<16}" + "".join(f"{c:>26}" for c in cells) + f"{med['postgresql'] / med['sqlite-FULL']:8.2f}")


if __name__ == "__main__":
    main()
