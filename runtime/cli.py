"""The `dsc` command line. Each subcommand lives in its own module under `commands/`; what
they share (flags, exit codes, the error helper) is in `commands/common.py`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .commands.common import ExitCode

EXIT_OK, EXIT_USAGE = ExitCode.OK, ExitCode.USAGE

# Subcommand modules, in the order `dsc --help` lists them. Each exposes
# `register(subparsers)` which adds its parser and sets `func(args) -> int`.
COMMAND_MODULES = [
    "check",
    "fmt",
    "show",
    "graph",
    "escrow",
    "agent",
    "data",
    "log",
    "audit",
    "lsp",
    "propose",
    "approve",
    "reject",
    "revoke",
    "status",
    "contracts",
    "policy",
    "execute",
    "run",
    "image",
    "keys",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2 without a traceback
        self.print_usage(sys.stderr)
        print(f"dsc: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dsc", description="Check, approve and execute DataStation data-sharing contracts.")
    parser.add_argument("--version", action="version", version=f"dsc {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        qualified = f"datastation.runtime.commands.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as exc:
            if exc.name == qualified:  # a command being developed in a source tree
                continue
            raise
        module.register(sub)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("datastation")
    except Exception:  # pragma: no cover - running from a source tree without metadata
        return "0+unknown"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
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
