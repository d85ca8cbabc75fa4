"""`dsc result CONTRACT --as AGENT [-o FILE]`: the result a contract released to AGENT.

Shows a preview (a table's shape and first rows, a model's summary, pretty JSON); `-o FILE`
writes the whole result instead (Parquet for a table, JSON otherwise; `-o -` to standard
output). A result sealed for AGENT (no_trust) is opened with AGENT's key from the keyring;
any other agent is refused.
"""

from __future__ import annotations

import os
import sys

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("result", help="show (or write to a file) a result a contract released to you",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("id", metavar="CONTRACT", help="contract id (or an unambiguous prefix)")
    cs.add_as(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE (mode 0600; - for standard "
                                                          "output) instead of showing a preview")
    p.add_argument("--rows", type=int, default=10, metavar="N", help="table rows to show (default 10)")
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.stdlib.serialize import SerializeError

    from .result_view import decode, print_preview

    if args.rows < 0:
        return cs.fail("--rows must be 0 or more", cs.ExitCode.USAGE)
    try:
        with cs.escrow_from(args) as escrow:
            res = escrow.result(args.agent, args.id, args.passphrase_env)
        if args.output:
            return _write(args.output, res)
        value = decode(res.kind, res.data)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    except SerializeError as exc:
        return cs.fail(f"the result of contract {res.name} cannot be read as a {res.kind}: {exc}")
    con = cs.console()
    con.print(cs.safe_text(f"contract {res.name} ({res.contract_id[:12]}): result released to {res.recipient}, "
                           f"{len(res.data):,} bytes, sha256 {res.sha256[:16]}…"), markup=False)
    con.print(cs.safe_text(f"  {res.path}"), markup=False, style="dim")
    print_preview(con, res.kind, value, indent=2, rows=args.rows)
    return 0


def _write(output: str, res) -> int:
    if output == "-":
        sys.stdout.buffer.write(res.data)
        sys.stdout.flush()
        return 0
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(res.data)
    except OSError as exc:
        return cs.fail(f"cannot write {output}: {exc.strerror}")
    print(cs.safe_text(f"wrote the {res.kind} released to {res.recipient} by contract {res.name} "
                       f"({len(res.data):,} bytes) to {output}"), file=sys.stderr)
    return 0
