"""`dsc approve CONTRACT... --as AGENT`: read each contract's summary, then sign its identity hash.

One contract is one `contract.approve` request; several go in one `contract.approve_many`
request (each approval its own signature), all or nothing."""

from __future__ import annotations

import sys

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("approve", help="approve contracts (shows each summary, then signs its identity hash)",
                       description="Show the summary of each CONTRACT, then sign its identity hash with --as's key "
                                   "(several contracts: in one request, all or nothing). On a terminal you are asked "
                                   "to confirm unless --yes is given; without a terminal to ask on, --yes is "
                                   "required (nothing is signed silently).")
    p.add_argument("id", metavar="CONTRACT", nargs="+",
                   help="the contracts: each its name (the latest proposal of that name), its id, or an id prefix "
                        "of at least 4 characters")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    cs.add_as(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .summary_view import render_summary
    from datastation.runtime.escrow import APPROVE, APPROVE_MANY
    from datastation.runtime.escrow.lifecycle import MAX_BATCH

    if not args.yes and not _interactive():
        return cs.fail("there is no terminal to confirm the approval on: read the contract first (`dsc show`, "
                       "`dsc status`), then pass --yes to approve it", cs.ExitCode.USAGE)
    refs = list(dict.fromkeys(args.id))
    if len(refs) > MAX_BATCH:
        return cs.fail(f"{len(refs)} contracts: at most {MAX_BATCH} in one approval (all or nothing)",
                       cs.ExitCode.USAGE)
    row = None
    try:
        with cs.escrow_from(args) as escrow:
            shown = []
            for ref in refs:
                row = escrow.resolve(ref)
                escrow.check_approver(args.agent, row.id, args.passphrase_env)  # a wrong --as fails before the summary
                summary = cs.stored_summary(escrow, row)
                render_summary(summary, cs.console())
                shown.append((row.name, summary["identity"]))  # what was shown is what is signed
            if len({cid for _, cid in shown}) != len(shown):
                return cs.fail("the same contract is named twice: name each once", cs.ExitCode.USAGE)
            if not args.yes:
                what = f"contract {shown[0][0]} ({shown[0][1][:12]})" if len(shown) == 1 else \
                    f"these {len(shown)} contracts ({', '.join(n for n, _ in shown)})"
                answer = input(f"Approve {what} as {args.agent}? [y/N] ").strip().lower()
                if answer not in ("y", "yes"):
                    print("not approved")
                    return 1
            params = [escrow.approval_params(args.agent, cid, args.passphrase_env) for _, cid in shown]
            if len(params) == 1:
                rows = [escrow.approve(escrow.sign_as(args.agent, APPROVE, params[0], args.passphrase_env))]
            else:
                rows = escrow.approve_many(escrow.sign_as(args.agent, APPROVE_MANY, {"approvals": params},
                                                          args.passphrase_env))
    except cs.user_errors() as exc:
        return cs.fail(exc, cs.exit_code_of(exc, row))
    except EOFError:
        return cs.fail("no answer: not approved")
    for row in rows:
        print(f"{args.agent} approved contract {row.name} ({row.id[:12]}): status {row.status}")
    return 0


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # stdin closed or replaced
        return False
