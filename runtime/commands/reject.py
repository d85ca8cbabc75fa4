"""`dsc reject CONTRACT --as AGENT --why TEXT`: a source agent blocks a contract."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("reject", help="reject a contract (one rejection blocks it; after a run that released nothing, withdraws consent)")
    cs.add_contract(p)
    p.add_argument("--why", required=True, metavar="TEXT", help="the reason, recorded in the audit log")
    cs.add_as(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.runtime.escrow import REJECT

    try:
        with cs.escrow_from(args) as escrow:
            cid = escrow.resolve_id(args.id)
            row = escrow.reject(escrow.sign_as(args.agent, REJECT, {"contract": cid, "reason": args.why},
                                               args.passphrase_env))
    except cs.user_errors() as exc:
        return cs.fail(exc)
    print(f"{args.agent} rejected contract {row.name} ({row.id[:12]}): status {row.status}")
    return 0
