"""What every `dsc` subcommand shares: exit codes, flags, the error helper, opening the escrow,
and printing. Light to import (rich and the escrow load only when a command uses them).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of every command (docs/cli.md, `dsc --help`)."""

    OK = 0  # done (for `dsc run` / `dsc execute`: the result was released)
    ERRORS = 1  # errors found (in a file, a contract named, an escrow missing), a refusal, or nothing released
    USAGE = 2  # a command line that does not parse, or an internal error
    DENIED = 3  # a standing deny or a rejection blocks the contract
    AWAITING = 4  # the contract still waits for approvals


# The exit-code table, once: `dsc --help` prints it and docs/cli.md shows it (a test compares them).
EXIT_CODES_HELP = """exit codes (every command):
  0  done (for execute and run: the result was released or kept)
  1  errors: a file with errors or that cannot be read, a contract or escrow that does not
     exist, a request the escrow refuses, a condition that failed (nothing released)
  2  usage: a command line that does not parse (or an internal error)
  3  denied: a standing deny or a rejection blocks the contract
  4  awaiting approval: the contract still waits for approvals"""

# Refusal codes of the escrow that decide the exit code (every other refusal is ERRORS).
_REFUSAL_EXIT = {"denied": ExitCode.DENIED, "rejected": ExitCode.DENIED, "awaiting_approval": ExitCode.AWAITING}


def exit_code_of(exc: BaseException, row=None) -> int:
    """The exit code for a user error (`user_errors()`): DENIED or AWAITING for a refusal that
    says so, or for a refusal to act on `row` (the contract the command named) because a deny or
    a rejection blocks it; ERRORS for everything else."""
    code = getattr(exc, "code", None)
    if code in ("closed", "not_approved") and getattr(row, "status", None) in ("denied", "rejected"):
        return int(ExitCode.DENIED)
    return int(_REFUSAL_EXIT.get(code, ExitCode.ERRORS))


# ------------------------------------------------------------------ flags


def add_as(p, required: bool = True) -> None:
    p.add_argument("--as", dest="agent", required=required, metavar="AGENT", help="the agent making the request")
    p.add_argument("--passphrase-env", metavar="VAR", default=None,
                   help="environment variable holding the agent's key passphrase")


def add_config(p) -> None:
    p.add_argument("--config", metavar="PATH", default=None,
                   help="escrow configuration (default: $DSC_CONFIG, else the escrow found from the current "
                        "directory: see --escrow)")


def add_escrow(p) -> None:
    """The global `--escrow DIR`, accepted by every parser (before or after the command): it is
    not set unless given, so a value given before the command is not reset by the command's parser."""
    import argparse

    p.add_argument("--escrow", metavar="DIR", default=argparse.SUPPRESS,
                   help="the escrow to act on (default: $DSC_ESCROW, else found walking up from the current "
                        "directory, like git: a .dsc-escrow/ or a data_station_config.yaml)")


def add_contract(p) -> None:
    """The CONTRACT argument of every command that takes a proposed contract (stored as `args.id`),
    resolved by `Escrow.resolve`."""
    p.add_argument("id", metavar="CONTRACT",
                   help="the contract: its name (the latest proposal of that name), its id, or an id prefix "
                        "of at least 4 characters")


def add_format(p, choices: tuple[str, ...] = ("human", "json")) -> None:
    p.add_argument("--format", choices=choices, default=choices[0], help="output format")


# ------------------------------------------------------------------ errors


def fail(msg, code: int | None = None) -> int:
    """Print `dsc: error: MSG` on stderr and return `code` (the one way commands report an error).
    Without a code, an exception's own (`exit_code_of`), else ERRORS. Control characters in MSG
    (it may quote data or another party) are shown escaped."""
    if code is None:
        code = exit_code_of(msg) if isinstance(msg, BaseException) else ExitCode.ERRORS
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

    extra = ()
    if "httpx" in sys.modules:  # a served escrow that cannot be reached (commands/remote.py)
        extra = (sys.modules["httpx"].HTTPError,)
    return (EscrowRefusal, AuthError, KeysError, ConfigError, StoreError, StorageError, SchemaError, IdentityError,
            OSError, UnicodeDecodeError, *extra)


# ------------------------------------------------------------------ the escrow


def load_config_from(args, *, must_exist: bool = True):
    """The configuration of the escrow this command acts on (`runtime/discovery.py`: `--escrow`,
    `--config`, `$DSC_ESCROW`, `$DSC_CONFIG`, then walking up from the current directory). With
    `must_exist`, an escrow not created by `dsc init` is an error (`NoEscrow`)."""
    from datastation.runtime.discovery import locate

    return locate(getattr(args, "escrow", None), getattr(args, "config", None), must_exist=must_exist)


def settings_from(args):
    """The settings of a command that needs no escrow (`dsc run`, `dsc image`, `dsc keys decrypt`,
    `dsc agent keygen`): those of the escrow found as `load_config_from` finds it, else the defaults."""
    from datastation.runtime.config import config_from_dict
    from datastation.runtime.discovery import NoEscrow

    try:
        return load_config_from(args, must_exist=False)
    except NoEscrow:
        if getattr(args, "escrow", None) or getattr(args, "config", None):
            raise
        return config_from_dict({})


@contextmanager
def escrow_from(args, *, create: bool = False):
    """The escrow facade of the escrow this command acts on (closed on exit). It must exist
    (`dsc init` creates it); under no_trust the key-encryption key is checked first."""
    from datastation.runtime.discovery import remote_url

    url = remote_url(getattr(args, "escrow", None), getattr(args, "config", None))
    if url is not None:  # a served escrow: the same methods, signed here and sent (commands/remote.py)
        from .remote import RemoteEscrow

        with RemoteEscrow(url, getattr(args, "agent", None), getattr(args, "passphrase_env", None)) as escrow:
            yield escrow
        return
    from datastation.runtime.escrow import Escrow, open_escrow
    from datastation.runtime.storage import codec_for

    config = load_config_from(args)
    if config.trust_mode == "no_trust":
        codec_for(config)  # a missing or wrong KEK stops the command before it changes anything
    with Escrow(open_escrow(config, create=create)) as escrow:
        yield escrow


def stored_summary(escrow, row) -> dict:
    """The owner's summary of a stored contract (`escrow.views.stored_summary`)."""
    if getattr(escrow, "remote", False):
        return escrow.summary(row.id)
    from datastation.runtime.escrow.views import stored_summary as summary

    return summary(escrow.ctx, row)


def is_remote(escrow) -> bool:
    """Whether the escrow is a served one (`commands/remote.py`)."""
    return bool(getattr(escrow, "remote", False))


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


def _show(diagnostics, result, stream, counts: str, what: str) -> None:
    """Render `diagnostics` of a checked file as `dsc check` does, then the line saying why we stop."""
    from datastation.dsl.render import render, use_color

    stream = stream or sys.stderr
    stream.write(render(diagnostics, {result.file: result.source}, "human", color=use_color(stream)))
    stream.write(f"{counts} in {result.file}: {what} (see `dsc check {result.file}`)\n")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def print_check_refusal(result, what: str, stream=None) -> None:
    """Show exactly the diagnostics `dsc check` shows for a checked file (a `dsl.check.CheckResult`:
    its errors and warnings, rendered alike), then why the command stops."""
    n, w = len(result.errors), len(result.diagnostics) - len(result.errors)
    _show(result.diagnostics, result, stream, f"{_count(n, 'error')}, {_count(w, 'warning')}", what)


def print_diagnostics(loaded, stream=None, errors=None) -> None:
    """Show the errors that stop a command (those of a `contracts.loading.Loaded`, or `errors`
    found in it), the way `dsc check` does."""
    errors = loaded.errors if errors is None else errors
    _show(errors, loaded.result, stream, _count(len(errors), "error"), "fix them first")
