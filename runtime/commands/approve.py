"""`dsc approve CONTRACT --as AGENT`: read the contract's summary, then sign its identity hash."""

from __future__ import annotations

import sys

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("approve", help="approve a contract (shows its summary, then signs its identity hash)",
                       description="Show the summary of CONTRACT, then sign its identity hash with --as's key. "
                                   "On a terminal you are asked to confirm unless --yes is given; without a "
                                   "terminal to ask on, --yes is required (nothing is signed silently).")
    cs.add_contract(p)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    cs.add_as(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .summary_view import render_summary
    from datastation.runtime.escrow import APPROVE

    if not args.yes and not _interactive():
        return cs.fail("there is no terminal to confirm the approval on: read the contract first (`dsc show`, "
                       "`dsc status`), then pass --yes to approve it", cs.ExitCode.USAGE)
    row = None
    try:
        with cs.escrow_from(args) as escrow:
            row = escrow.resolve(args.id)
            escrow.check_approver(args.agent, row.id, args.passphrase_env)  # a wrong --as fails before the summary
            summary = cs.stored_summary(escrow, row)
            render_summary(summary, cs.console())
            cid = summary["identity"]  # what was shown is what is signed
            if not args.yes:
                answer = input(f"Approve contract {row.name} ({cid[:12]}) as {args.agent}? [y/N] ").strip().lower()
                if answer not in ("y", "yes"):
                    print("not approved")
                    return 1
            req = escrow.sign_as(args.agent, APPROVE, escrow.approval_params(args.agent, cid, args.passphrase_env),
                                 args.passphrase_env)
            row = escrow.approve(req)
    except cs.user_errors() as exc:
        return cs.fail(exc, cs.exit_code_of(exc, row))
    except EOFError:
        return cs.fail("no answer: not approved")
    print(f"{args.agent} approved contract {row.name} ({row.id[:12]}): status {row.status}")
    return 0


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # stdin closed or replaced
        return False
