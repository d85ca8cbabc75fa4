"""`dsc log [--contract ID] [--agent A] [--format human|json]`: the audit log."""

from __future__ import annotations

import json


from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("log", help="show the audit log",
                       description="Show the escrow's audit log, oldest first (verify it with `dsc audit verify`).")
    p.add_argument("--contract", metavar="ID", default=None, help="only entries about this contract (id, id prefix or name)")
    p.add_argument("--agent", metavar="AGENT", default=None, help="only entries by or about this agent")
    p.add_argument("--kind", metavar="KIND", action="append", default=None, help="only entries of this kind (repeatable)")
    p.add_argument("--format", choices=("human", "json"), default="human")
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.runtime.audit import entries_json, format_entry

    try:
        with cs.escrow_from(args, create=False) as escrow:
            ctx = escrow.ctx
            contract = args.contract
            if contract is not None:
                matches = ctx.store.find_contracts(contract) or [
                    c for c in ctx.store.list_contracts() if c.name == contract]
                if len(matches) > 1:
                    return cs.fail(f"{contract!r} is ambiguous: it matches {len(matches)} contracts; give more of the id")
                if matches:
                    contract = matches[0].id
            entries = [e for e in ctx.store.audit_entries(contract=contract, agent=args.agent)
                       if not args.kind or e.kind in args.kind]
    except cs.user_errors() as exc:
        return cs.fail(exc)
    if args.format == "json":
        print(json.dumps(entries_json(entries), indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print("no audit entries" + (" match" if args.contract or args.agent or args.kind else ""))
    for e in entries:
        print(cs.safe_text(format_entry(e)))  # payloads carry names from data and other parties' text
    return 0
