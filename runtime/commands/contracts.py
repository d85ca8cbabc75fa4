"""`dsc contracts [--pending-mine --as AGENT] [--status S]`: list the escrow's contracts."""

from __future__ import annotations

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("contracts", help="list contracts (e.g. those waiting for your approval)")
    p.add_argument("--pending-mine", action="store_true", help="only contracts waiting for --as's approval")
    from datastation.contracts.status import ContractStatus

    statuses = [s.value for s in ContractStatus]
    p.add_argument("--status", metavar="STATUS", choices=statuses,
                   help=f"only contracts with this status: {', '.join(statuses)}")
    cs.add_as(p, required=False)
    cs.add_format(p)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.pending_mine and not args.agent:
        return cs.fail("--pending-mine needs --as AGENT")
    try:
        with cs.escrow_from(args) as escrow:
            rows = escrow.pending_for(args.agent) if args.pending_mine else escrow.contracts(args.status)
            if args.pending_mine and args.status:
                rows = [r for r in rows if r.status == args.status]
            return show(escrow, rows, args.format)
    except cs.user_errors() as exc:
        return cs.fail(exc)


def show(escrow, rows, fmt: str) -> int:
    out = []
    for r in rows:
        if hasattr(r, "waiting_for"):  # a served escrow's answer says it
            waiting = list(r.waiting_for)
        else:
            got = {a.agent for a in escrow.store.approvals(r.id)}
            waiting = [a for a in r.source_agents if a not in got] if r.status == "pending" else []
        out.append({"id": r.id, "name": r.name, "status": r.status, "proposer": r.proposer, "waiting_for": waiting,
                    "recipients": list(r.recipients)})
    if fmt == "json":
        cs.print_json(out)
        return 0
    if not out:
        print("no contracts")
        return 0
    from rich.table import Table
    from rich.text import Text

    t = Table(box=None, padding=(0, 2), header_style="bold")
    for col in ("id", "contract", "status", "proposer", "waiting for", "recipients"):
        t.add_column(col)
    for o in out:
        t.add_row(*(Text(cs.safe_text(v)) for v in (o["id"][:12], o["name"], o["status"], o["proposer"],
                                                    ", ".join(o["waiting_for"]), ", ".join(o["recipients"]))))
    cs.console().print(t)
    return 0
