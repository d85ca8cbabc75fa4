"""`dsc show FILE CONTRACT` / `dsc show ID`: the summary a data owner reads before approving.

With a file, the summary of a contract as that file states it (before proposing). With the id
of a proposed contract, the summary as the escrow stored it: what `dsc approve` shows and an
approval signs (the identity recomputed from the stored proposal; kept inputs traced through
the escrow's records, whatever a copy of the file says).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser(
        "show",
        help="show what a contract does, before anyone approves it",
        description="Show who contributes which data, what runs, who receives what, every condition, "
        "the standing policies that decide it and the contract's identity hash: of CONTRACT in FILE, or, "
        "given only ID, of the contract proposed to the escrow (what its owners approve).",
    )
    p.add_argument("file", metavar="FILE|ID", help="the .dsc file, or the id (prefix) of a proposed contract")
    p.add_argument("contract", metavar="CONTRACT", nargs="?", help="the contract's name (with FILE)")
    p.add_argument("--format", choices=("human", "json"), default="human", help="output format")
    cs.add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.contract is None:
        if Path(args.file).exists():
            return cs.fail(f"name the contract: dsc show {args.file} CONTRACT (or give the id of a proposed "
                           f"contract: dsc show ID)", cs.ExitCode.USAGE)
        return _stored(args)
    from datastation.contracts.loading import load_checked
    from datastation.contracts.summary import summarize

    loaded = load_checked(args.file)
    if not loaded.ok:
        cs.print_diagnostics(loaded)
        return 1
    scenario = loaded.scenario
    if args.contract not in scenario.contracts:
        known = ", ".join(sorted(scenario.contracts)) or "none"
        return cs.fail(f"no contract '{args.contract}' in {args.file} (contracts: {known})", cs.ExitCode.USAGE)
    summary = summarize(scenario, args.contract)
    _print(args, summary)
    return 0 if summary["identity"] else 1


def _stored(args) -> int:
    try:
        with cs.escrow_from(args, create=False) as escrow:
            row = escrow.store.get_contract(escrow.resolve_id(args.file))
            summary = cs.stored_summary(escrow, row)
    except cs.user_errors() as exc:
        return cs.fail(exc)
    _print(args, summary)
    return 0


def _print(args, summary: dict) -> None:
    if args.format == "json":
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        from .summary_view import render_summary

        render_summary(summary, cs.console())
