"""`dsc show FILE CONTRACT`: the summary a data owner reads before approving a contract."""

from __future__ import annotations

import json

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser(
        "show",
        help="show what a contract does, before anyone approves it",
        description="Show who contributes which data, what runs, who receives what, every condition, "
        "the standing policies that decide it and the contract's identity hash.",
    )
    p.add_argument("file", metavar="FILE", help="the .dsc file")
    p.add_argument("contract", metavar="CONTRACT", help="the contract's name")
    p.add_argument("--format", choices=("human", "json"), default="human", help="output format")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from datastation.contracts.loading import load_checked
    from datastation.contracts.summary import summarize

    from .summary_view import render_summary

    loaded = load_checked(args.file)
    if not loaded.ok:
        cs.print_diagnostics(loaded)
        return 1
    scenario = loaded.scenario
    if args.contract not in scenario.contracts:
        known = ", ".join(sorted(scenario.contracts)) or "none"
        return cs.fail(f"no contract '{args.contract}' in {args.file} (contracts: {known})", cs.ExitCode.USAGE)
    summary = summarize(scenario, args.contract)
    if args.format == "json":
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        render_summary(summary, Console(highlight=False, soft_wrap=True))
    return 0 if summary["identity"] else 1
