"""`dsc audit verify`: check the audit log (genesis, hash chain, signatures, head), then the
store against it (every row has its signed entry and vice versa, every released file its hash)."""

from __future__ import annotations

import json
import sys


from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the audit log and the store against it",
                       description="Audit log tools.")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="detect modified, deleted, inserted or reordered entries, and edited rows",
                        description="Check the log's genesis entry, recompute the hash chain and check every escrow "
                                    "signature; then check that every agent, data element, contract, approval and "
                                    "release in the store matches its signed entries (and every released file its "
                                    "hash). Exit 1 naming what does not match.")
    v.add_argument("--format", choices=("human", "json"), default="human")
    cs.add_config(v)
    v.set_defaults(func=_verify)


def _verify(args) -> int:
    from datastation.runtime.audit import verify_log
    from datastation.runtime.escrow.verify import StoreReport, verify_store

    try:
        with cs.escrow_from(args) as escrow:
            result = verify_log(escrow.store, escrow.ctx.escrow_key.public_key())
            # a store can only be checked against a log that is whole and the escrow's own
            store = verify_store(escrow.ctx) if result.ok else StoreReport(["not checked: the log is not intact"])
    except cs.user_errors() as exc:
        return cs.fail(exc)
    ok = result.ok and store.ok
    if args.format == "json":
        print(json.dumps({"ok": ok, "entries": result.count, "first_bad_seq": result.bad_seq,
                          "position": result.position, "reason": result.reason,
                          "log_ok": result.ok, "store_ok": store.ok, "store_problems": store.problems}))
    else:
        print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
        if result.ok:
            print(store.describe(), file=sys.stdout if store.ok else sys.stderr)
    return 0 if ok else 1
