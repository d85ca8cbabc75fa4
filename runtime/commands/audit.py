"""`dsc audit verify`: check the audit log's hash chain, signatures and head."""

from __future__ import annotations

import json
import sys

from datastation.runtime.config import add_config_argument, load_config


def register(sub) -> None:
    p = sub.add_parser("audit", help="verify the audit log",
                       description="Audit log tools.")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="detect modified, deleted, inserted or reordered entries",
                        description="Recompute the hash chain and check every escrow signature; "
                                    "exit 1 naming the first bad entry.")
    v.add_argument("--format", choices=("human", "json"), default="human")
    add_config_argument(v)
    v.set_defaults(func=_verify)


def _verify(args) -> int:
    from datastation.runtime.audit import verify_log
    from datastation.runtime.store.services import open_escrow, user_error_types

    try:
        with open_escrow(load_config(args.config), create=False) as ctx:
            result = verify_log(ctx.store, ctx.escrow_key.public_key())
    except user_error_types() as exc:
        print(f"dsc: error: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps({"ok": result.ok, "entries": result.count, "first_bad_seq": result.bad_seq,
                          "position": result.position, "reason": result.reason}))
    else:
        print(result.describe(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1
