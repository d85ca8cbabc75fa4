"""`dsc lsp`: the language server for editors (Language Server Protocol over stdin/stdout)."""

from __future__ import annotations

import logging
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "lsp",
        help="run the language server for editors (stdio)",
        description="Run the .dsc language server over stdin/stdout: diagnostics as you type (the same as "
        "`dsc check`), hover, go to definition, completion, formatting and document symbols. "
        "Editors start it themselves; see docs/editors.md.",
    )
    p.add_argument("--stdio", action="store_true", help="use stdin/stdout (the default and only transport)")
    p.add_argument("--log-file", metavar="PATH", help="write the server's log to PATH (for debugging)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every message (with --log-file)")
    p.set_defaults(func=run)


def run(args) -> int:
    if sys.stdin.isatty():
        print("dsc lsp: speaks the Language Server Protocol on stdin/stdout; start it from an editor "
              "(see docs/editors.md)", file=sys.stderr)
    level = logging.DEBUG if args.verbose else logging.INFO
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=level,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:  # stdout carries the protocol: only warnings, and only to stderr
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    from datastation.dsl.lsp.server import main

    return main()
