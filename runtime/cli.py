"""The `dsc` command line. Each subcommand lives in its own module under `commands/`; what
they share (flags, exit codes, the error helper) is in `commands/common.py`.

Start-up is kept short: `COMMANDS` lists every command with its one-line help, so that
`dsc --help` and the first parse (which finds the command) import no command module; only the
invoked command's module is imported and registers its own parser (`register(subparsers)`).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .commands.common import EXIT_CODES_HELP, ExitCode, add_escrow

EXIT_OK, EXIT_USAGE = ExitCode.OK, ExitCode.USAGE

# Every command, in the order `dsc --help` lists them, with its one-line help. Each is a module
# `commands/NAME.py` exposing `register(subparsers)`, which adds its parser (with this same help:
# tests/runtime/test_cli_startup.py compares them) and sets `func(args) -> int`.
COMMANDS: dict[str, str] = {
    "init": "create an escrow in a directory (the other commands find it from there and below)",
    "check": "check .dsc files without running anything",
    "fmt": "format .dsc files in the canonical layout",
    "show": "show what a contract does, before anyone approves it",
    "graph": "draw the dataflow graph (agents, data, contracts, kept results, recipients)",
    "escrow": "show the escrow's id (what every signed message names)",
    "agent": "create and list agents (parties with signing keys)",
    "data": "add, list and remove data elements",
    "log": "show the audit log",
    "audit": "verify the audit log and the store against it",
    "lsp": "run the language server for editors (stdio)",
    "propose": "propose contracts to the escrow (checks the file first)",
    "approve": "approve contracts (shows each summary, then signs its identity hash)",
    "reject": "reject a contract (one rejection blocks it; after a run that released nothing, withdraws consent)",
    "revoke": "withdraw a contract (proposer) or an approval (approver) before anything is released",
    "status": "show a contract's approvals, executions and releases (or all contracts)",
    "contracts": "list contracts (e.g. those waiting for your approval)",
    "policy": "register standing policies that approve or block contracts automatically",
    "execute": "execute an approved contract (requires, run, ensures, release)",
    "result": "show (or write to a file) a result a contract released to you",
    "run": "play a scenario end to end in a temporary escrow (development mode)",
    "image": "build the Docker image no-trust functions run in",
    "keys": "manage encryption keys (no-trust mode)",
    "serve": "serve the escrow over HTTP to agents on other machines",
    "invite": "invite an agent to register its key with a served escrow (one-time token)",
    "completion": "print a shell completion script (bash, zsh or fish)",
}


class _Parser(argparse.ArgumentParser):
    """Every parser of `dsc` (the commands' and their actions' too) accepts the global `--escrow`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        add_escrow(self)

    def error(self, message):  # usage errors exit 2 without a traceback
        self.print_usage(sys.stderr)
        print(f"dsc: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _global_options(parser: argparse.ArgumentParser) -> None:
    """The options before the command (both parses know them, so that a value is never taken
    for the command)."""
    parser.add_argument("--version", action="version", version=f"dsc {__version__}")
    if not isinstance(parser, _Parser):
        add_escrow(parser)


def _base_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = _Parser(prog="dsc", description="Check, approve and execute DataStation data-sharing contracts.",
                     epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _global_options(parser)
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `dsc` parser. With a `command`, only that command's module is imported, to add its
    parser; without one, every command is listed with its help from `COMMANDS` (`dsc --help`)."""
    parser, sub = _base_parser()
    if command in COMMANDS:
        importlib.import_module(f"datastation.runtime.commands.{command}").register(sub)
        return parser
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def build_full_parser() -> argparse.ArgumentParser:
    """The `dsc` parser with every command's own parser (shell completion reads it)."""
    parser, sub = _base_parser()
    for name in COMMANDS:
        importlib.import_module(f"datastation.runtime.commands.{name}").register(sub)
    return parser


class _NotACommandLine(Exception):
    pass


class _Peek(argparse.ArgumentParser):
    def error(self, message):  # the full parser reports it
        raise _NotACommandLine(message)


def _command_in(argv: list[str]) -> str | None:
    """The command `argv` names, if any, found by a light parse that imports no command module
    (`--version` is answered here)."""
    peek = _Peek(prog="dsc", add_help=False)
    _global_options(peek)
    peek.add_argument("command", nargs="?")
    peek.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        args, _unknown = peek.parse_known_args(argv)
    except _NotACommandLine:
        return None
    return args.command if args.command in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(_command_in(argv))
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        args.full_parser = build_full_parser  # for `dsc completion` (commands never import this module)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("dsc: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # never show a traceback to a user
        import os
        import traceback

        if os.environ.get("DSC_DEBUG"):
            traceback.print_exc()
        from datastation.dsl.codes import INTERNAL_ERROR

        print(f"dsc: internal error ({INTERNAL_ERROR}): {type(exc).__name__}: {exc}", file=sys.stderr)
        print("     set DSC_DEBUG=1 for the traceback, and please report it", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
