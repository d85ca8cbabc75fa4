"""`dsc execute CONTRACT --as RECIPIENT`: run an approved contract and release its result."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("execute", help="execute an approved contract (requires, run, ensures, release)",
                       description="Execute CONTRACT: every require is evaluated first, the function runs with "
                                   "every read recorded, every ensure is evaluated on the result, and only then is "
                                   "the result released to the recipients' outboxes (or kept in the escrow). "
                                   "Exit 0 when released, 1 when a condition failed or nothing was released, 3 when the "
                                   "contract is denied or rejected, 4 while it awaits approval.")
    cs.add_contract(p)
    cs.add_as(p)
    cs.add_format(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .narrate import report_lines
    from datastation.runtime.escrow import EXECUTE

    row = None
    try:
        with cs.escrow_from(args) as escrow:
            row = escrow.resolve(args.id)
            con = cs.console()
            with con.status("executing…") if con.is_terminal and args.format == "human" else _null():
                rep = escrow.execute(escrow.sign_as(args.agent, EXECUTE, {"contract": row.id}, args.passphrase_env))
    except cs.user_errors() as exc:
        return cs.fail(exc, cs.exit_code_of(exc, row))
    if args.format == "json":
        cs.print_json(rep.to_json(values=False))
    else:
        con.print(f"contract {rep.name} ({rep.contract_id[:12]}): {rep.status} in {rep.seconds:.2f} s")
        for line in report_lines(rep, values=False):  # compared values may describe others' data
            con.print("  " + cs.safe_text(line))
    return 0 if rep.status == "executed" else 1


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
