"""`dsc execute CONTRACT --as RECIPIENT`: run an approved contract and release its result."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("execute", help="execute an approved contract (requires, run, ensures, release)",
                       description="Execute CONTRACT: every require is evaluated first, the function runs with "
                                   "every read recorded, every ensure is evaluated on the result, and only then is "
                                   "the result released to the recipients' outboxes (or kept in the escrow). "
                                   "Exit 0 when released, 1 when a condition failed or nothing was released, 3 when the "
                                   "contract is denied or rejected, 4 while it awaits approval. The stages (verifying, "
                                   "require, compute, ensure, release) are shown on standard error: a spinner on a "
                                   "terminal, one line per stage otherwise.")
    cs.add_contract(p)
    cs.add_as(p)
    cs.add_format(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .narrate import report_lines
    from .progress import StageProgress, stderr_console
    from datastation.runtime.escrow import EXECUTE
    from datastation.runtime.escrow.execution import ExecutionInterrupted

    row = None
    try:
        with cs.escrow_from(args) as escrow:
            row = escrow.resolve(args.id)
            con = cs.console()
            req = escrow.sign_as(args.agent, EXECUTE, {"contract": row.id}, args.passphrase_env)
            with StageProgress(stderr_console(), prefix="execute: ") as show:
                rep = escrow.execute(req, progress=show)
    except ExecutionInterrupted as exc:  # Ctrl-C: recorded as interrupted, the contract may run again
        r = exc.report
        if args.format == "json":
            cs.print_json(r.to_json(values=False))
        return cs.fail(f"interrupted: execution #{r.number} of contract {r.name} was recorded as interrupted and "
                       f"released nothing; `dsc execute {r.contract_id[:12]}` runs it again", cs.ExitCode.ERRORS)
    except cs.user_errors() as exc:
        return cs.fail(exc, cs.exit_code_of(exc, row))
    if args.format == "json":
        cs.print_json(rep.to_json(values=False))
    else:
        con.print(f"contract {rep.name} ({rep.contract_id[:12]}), execution #{rep.number}: {rep.status} "
                  f"in {rep.seconds:.2f} s")
        for line in report_lines(rep, values=False):  # compared values may describe others' data
            con.print("  " + cs.safe_text(line))
    return 0 if rep.status == "executed" else 1
