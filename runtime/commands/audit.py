"""`dsc audit verify`: check the audit log's hash chain, signatures and head."""

from __future__ import annotations

import json
import sys


from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the audit log",
                       description="Audit log tools.")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="detect modified, deleted, inserted or reordered entries",
                        description="Recompute the hash chain and check every escrow signature; "
                                    "exit 1 naming the first bad entry.")
    v.add_argument("--format", choices=("human", "json"), default="human")
    cs.add_config(v)
    v.set_defaults(func=_verify)


def _verify(args) -> int:
    from datastation.runtime.audit import verify_log

    try:
        with cs.escrow_from(args, create=False) as escrow:
            result = verify_log(escrow.store, escrow.ctx.escrow_key.public_key())
    except cs.user_errors() as exc:
        return cs.fail(exc)
    if args.format == "json":
        print(json.dumps({"ok": result.ok, "entries": result.count, "first_bad_seq": result.bad_seq,
                          "position": result.position, "reason": result.reason}))
    else:
        print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1
