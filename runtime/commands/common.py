"""What every `dsc` subcommand shares: exit codes, flags, the error helper, opening the escrow,
and printing. Light to import (rich and the escrow load only when a command uses them).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of every command (README, docs/escrow.md)."""

    OK = 0  # done (for `dsc run` / `dsc execute`: the result was released)
    ERRORS = 1  # errors found, a refusal, or nothing released
    USAGE = 2  # usage or internal error
    DENIED = 3  # a standing deny or a rejection blocks the contract
    AWAITING = 4  # the contract still waits for approvals


# ------------------------------------------------------------------ flags


def add_as(p, required: bool = True) -> None:
    p.add_argument("--as", dest="agent", required=required, metavar="AGENT", help="the agent making the request")
    p.add_argument("--passphrase-env", metavar="VAR", default=None,
                   help="environment variable holding the agent's key passphrase")


def add_config(p) -> None:
    p.add_argument("--config", metavar="PATH", default=None,
                   help="escrow configuration (default: $DSC_CONFIG or ./data_station_config.yaml)")


def add_format(p, choices: tuple[str, ...] = ("human", "json")) -> None:
    p.add_argument("--format", choices=choices, default=choices[0], help="output format")


# ------------------------------------------------------------------ errors


def fail(msg, code: int = ExitCode.ERRORS) -> int:
    """Print `dsc: error: MSG` on stderr and return `code` (the one way commands report an error).
    Control characters in MSG (it may quote data or another party) are shown escaped."""
    text = "\n".join(safe_text(line) for line in str(msg).split("\n"))
    print(f"dsc: error: {text}", file=sys.stderr)
    return int(code)


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is fit for a user (printed with `fail`, never as a traceback)."""
    from datastation.contracts.identity import IdentityError
    from datastation.runtime.config import ConfigError
    from datastation.runtime.data_schema import SchemaError
    from datastation.runtime.escrow import EscrowRefusal
    from datastation.runtime.keys import AuthError, KeysError
    from datastation.runtime.storage import StorageError
    from datastation.runtime.store import StoreError

    return (EscrowRefusal, AuthError, KeysError, ConfigError, StoreError, StorageError, SchemaError, IdentityError,
            OSError, UnicodeDecodeError)


# ------------------------------------------------------------------ the escrow


def load_config_from(args):
    from datastation.runtime.config import load_config

    return load_config(getattr(args, "config", None))


@contextmanager
def escrow_from(args, *, create: bool = True):
    """The escrow facade for a command's `--config` (closed on exit)."""
    from datastation.runtime.escrow import Escrow, open_escrow

    with Escrow(open_escrow(load_config_from(args), create=create)) as escrow:
        yield escrow


def stored_summary(escrow, row) -> dict:
    """The owner's summary of a stored contract (`escrow.views.stored_summary`)."""
    from datastation.runtime.escrow.views import stored_summary as summary

    return summary(escrow.ctx, row)


def describe_decision(d) -> str:
    if d.effect == "allow":
        return f"approved for {d.owner} by policy {d.rule}"
    if d.effect == "deny":
        return f"denied by {d.owner}'s policy {d.rule}"
    if d.effect == "withdrawn":
        return f"{d.owner}'s policy approval withdrawn (the policy no longer allows it)"
    return f"no standing policy of {d.owner} decides it: {d.owner} decides by hand"


# ------------------------------------------------------------------ output


def console():
    import os

    from rich.console import Console

    con = Console(highlight=False, soft_wrap=True)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con = Console(highlight=False, soft_wrap=True, width=160)  # pipes and logs: do not wrap tables
    return con


def safe_text(value) -> str:
    """`value` as text fit for a terminal: every character that is not printable (escape
    sequences, other control characters, bidi overrides, zero-width and line separators) is
    shown as `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN` instead of acting on the terminal. Use it for
    every name or text that comes from data or from another party."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if ch.isprintable():
            out.append(ch)
        elif o < 0x100:
            out.append(f"\\x{o:02x}")
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    return "".join(out)


def print_json(value) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def print_check_refusal(result, what: str, stream=None) -> None:
    """Show exactly the diagnostics `dsc check` shows for a checked file (a `dsl.check.CheckResult`:
    its errors and warnings, rendered alike), then why the command stops."""
    from datastation.dsl.render import render, use_color

    stream = stream or sys.stderr
    stream.write(render(result.diagnostics, {result.file: result.source}, "human", color=use_color(stream)))
    n, w = len(result.errors), len(result.diagnostics) - len(result.errors)
    stream.write(f"{n} error{'s' if n != 1 else ''}, {w} warning{'s' if w != 1 else ''} in {result.file}: {what} "
                 f"(see `dsc check {result.file}`)\n")


def print_diagnostics(loaded, stream=None) -> None:
    """Show the errors that stop a command (a `contracts.loading.Loaded`), the way `dsc check` does."""
    from datastation.dsl.render import render, use_color

    stream = stream or sys.stderr
    r = loaded.result
    stream.write(render(loaded.errors, {r.file: r.source}, "human", color=use_color(stream)))
    n = len(loaded.errors)
    stream.write(f"{n} error{'s' if n != 1 else ''} in {r.file}: fix them first (see `dsc check {r.file}`)\n")
