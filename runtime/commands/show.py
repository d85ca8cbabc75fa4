"""`dsc show FILE CONTRACT` / `dsc show FILE` / `dsc show CONTRACT`: the summary a data owner
reads before approving.

With a file, the summary of a contract as that file states it (before proposing); with a file
alone, the list of its contracts. With a proposed contract (its name, id or id prefix), the summary as the escrow stored it: what `dsc approve` shows and an
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
        "given only a proposed CONTRACT (its name, id or id prefix), of the contract proposed to the escrow "
        "(what its owners approve). FILE alone lists the contracts of the file.",
    )
    p.add_argument("file", metavar="FILE|CONTRACT",
                   help="the .dsc file, or a proposed contract (its name, id, or an id prefix of at least 4 characters)")
    p.add_argument("contract", metavar="CONTRACT", nargs="?", help="the contract's name (with FILE)")
    p.add_argument("--format", choices=("human", "json"), default="human", help="output format")
    cs.add_as(p, required=False)
    cs.add_config(p)
    p.set_defaults(func=run)


def _is_file(text: str) -> bool:
    return Path(text).exists() or text.endswith(".dsc") or "/" in text or text == "-"


def run(args) -> int:
    if args.contract is None and not _is_file(args.file):
        return _stored(args)
    from datastation.contracts.loading import load_checked
    from datastation.contracts.summary import summarize

    loaded = load_checked(args.file)
    if not loaded.ok:
        cs.print_diagnostics(loaded)
        return cs.ExitCode.ERRORS
    scenario = loaded.scenario
    if args.contract is None:
        return _list(args, scenario)
    if args.contract not in scenario.contracts:
        known = ", ".join(sorted(scenario.contracts)) or "none"
        return cs.fail(f"no contract '{args.contract}' in {args.file} (contracts: {known})")
    summary = summarize(scenario, args.contract)
    _print(args, summary)
    return 0 if summary["identity"] else 1


def _list(args, scenario) -> int:
    """The contracts of a file: name, proposer, function, recipients (what `dsc show FILE NAME` details)."""
    rows = []
    for name, c in scenario.contracts.items():
        rows.append({"name": name, "by": c.by.name if c.by else "", "computes": c.call.func.name if c.call else "",
                     "kept_as": c.keep_as.name if c.keep_as else None, "to": [t.name for t in c.to]})
    if args.format == "json":
        print(json.dumps({"file": str(args.file), "contracts": rows}, indent=2, sort_keys=True))
        return 0
    if not rows:
        print(f"{args.file} has no contract")
        return 0
    print(f"{len(rows)} contract{'s' if len(rows) != 1 else ''} in {args.file} (details: dsc show {args.file} CONTRACT):")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        to = f"result to {', '.join(r['to'])}" if r["to"] else "result to nobody"
        kept = f", kept as {r['kept_as']}" if r["kept_as"] else ""
        print(cs.safe_text(f"  {r['name']:<{width}}  by {r['by']}, computes {r['computes']}, {to}{kept}"))
    return 0


def _stored(args) -> int:
    try:
        with cs.escrow_from(args) as escrow:
            row = escrow.resolve(args.file)
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
