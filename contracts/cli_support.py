"""Shared pieces of the lifecycle commands (propose, approve, ..., run)."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager


def add_as(p, required: bool = True) -> None:
    p.add_argument("--as", dest="agent", required=required, metavar="AGENT", help="the agent making the request")
    p.add_argument("--passphrase-env", metavar="VAR", default=None,
                   help="environment variable holding the agent's key passphrase")


def add_config(p) -> None:
    from datastation.runtime.config import add_config_argument

    add_config_argument(p)


def add_format(p) -> None:
    p.add_argument("--format", choices=("human", "json"), default="human", help="output format")


def fail(msg) -> int:
    print(f"dsc: error: {msg}", file=sys.stderr)
    return 1


def user_errors() -> tuple:
    from datastation.contracts.identity import IdentityError
    from datastation.runtime.store.services import user_error_types

    return (*user_error_types(), IdentityError, OSError, UnicodeDecodeError)


@contextmanager
def escrow_from(args):
    from datastation.runtime.config import load_config
    from datastation.runtime.escrow import Escrow

    with Escrow.open(load_config(getattr(args, "config", None))) as escrow:
        yield escrow


def console():
    import os

    from rich.console import Console

    con = Console(highlight=False, soft_wrap=True)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con = Console(highlight=False, soft_wrap=True, width=160)  # pipes and logs: do not wrap tables
    return con


def print_json(value) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def stored_summary(escrow, row) -> dict:
    """The owner's summary of a stored contract, from the approved bundle (not the disk)."""
    from datastation.contracts.execution import bundle_scenario
    from datastation.contracts.lifecycle import rules_from_row
    from datastation.contracts.summary import summarize

    scenario = bundle_scenario(row.meta["bundle"])
    extra = []
    for owner in row.source_agents:
        extra += rules_from_row(escrow.store.get_policy(owner))
    # policies registered in the escrow decide, not the ones written in the file
    scenario.policies = {}
    s = summarize(scenario, row.name, extra_policies=extra)
    s["file"] = row.meta.get("file", s["file"])
    s["id"] = row.id
    s["status"] = row.status
    return s


def describe_decision(d) -> str:
    if d.effect == "allow":
        return f"approved for {d.owner} by policy {d.rule}"
    if d.effect == "deny":
        return f"denied by {d.owner}'s policy {d.rule}"
    if d.effect == "withdrawn":
        return f"{d.owner}'s policy approval withdrawn (the policy no longer allows it)"
    return f"no standing policy of {d.owner} decides it: {d.owner} decides by hand"
