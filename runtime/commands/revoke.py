"""`dsc revoke CONTRACT --as AGENT`: before execution, the proposer withdraws the contract, or an
approver withdraws their approval."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("revoke", help="withdraw a contract (proposer) or an approval (approver) before anything is released")
    cs.add_contract(p)
    cs.add_as(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.runtime.escrow import REVOKE

    try:
        with cs.escrow_from(args) as escrow:
            cid = escrow.resolve_id(args.id)
            row = escrow.revoke(escrow.sign_as(args.agent, REVOKE, {"contract": cid}, args.passphrase_env))
    except cs.user_errors() as exc:
        return cs.fail(exc)
    what = "contract" if row.status == "revoked" else "approval of contract"
    print(f"{args.agent} revoked the {what} {row.name} ({row.id[:12]}): status {row.status}")
    return 0
