"""`dsc log [--contract CONTRACT] [--agent A] [--format human|json]`: the audit log."""

from __future__ import annotations

import json

from . import common as cs

# The kinds of audit entries (runtime/audit.py KINDS; a test keeps the two in step). Listed here
# so that `dsc log --kind` checks its values without importing the audit log to parse.
KINDS = ("genesis", "agent_created", "data_add", "data_replace", "data_remove", "proposal", "approval", "rejection",
         "revocation", "policy_apply", "policy_decision", "execution", "data_read", "short_circuit", "condition",
         "release", "kept", "app_state", "refusal", "recovery")


def register(sub) -> None:
    p = sub.add_parser("log", help="show the audit log",
                       description="Show the escrow's audit log, oldest first (verify it with `dsc audit verify`).")
    p.add_argument("--contract", metavar="CONTRACT", default=None,
                   help="only entries about this contract (its name, id, or an id prefix of at least 4 characters)")
    p.add_argument("--agent", metavar="AGENT", default=None, help="only entries by or about this agent")
    p.add_argument("--kind", metavar="KIND", action="append", default=None, choices=KINDS,
                   help=f"only entries of this kind (repeatable): {', '.join(KINDS)}")
    p.add_argument("--format", choices=("human", "json"), default="human")
    cs.add_as(p, required=False)
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.runtime.audit import entries_json, format_entry

    try:
        with cs.escrow_from(args) as escrow:
            ctx = escrow.ctx
            contract = None if args.contract is None else escrow.resolve_id(args.contract)
            entries = [e for e in _entries(ctx.store, contract, args.agent) if not args.kind or e.kind in args.kind]
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


def _entries(store, contract: str | None, agent: str | None):
    """The log's entries (of one contract and by or about one agent, when given). A contract's
    include the refusals of requests naming it: entries about their actor (a refusal changed
    nothing of the contract), the reference in their payload, so the whole log is read."""
    if contract is None:
        return store.audit_entries(agent=agent)
    return [e for e in store.audit_entries(agent=agent) if e.contract == contract or
            (e.kind == "refusal" and e.contract is None and _named(e.payload.get("contract"), contract))]


def _named(ref, cid: str) -> bool:
    # what the refused request sent: the full id, or a prefix of at least 4 characters, as the
    # escrow matched it (byte for byte)
    return isinstance(ref, str) and len(ref) >= 4 and cid.startswith(ref)
