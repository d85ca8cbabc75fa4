"""`dsc check FILE...`: every static check, with located diagnostics."""

from __future__ import annotations

import sys

from datastation.dsl.diagnostics import Severity

from .common import ExitCode


def register(sub) -> None:
    p = sub.add_parser("check", help="check .dsc files without running anything",
                       description="Check .dsc files statically: syntax, names, signatures, types, policies, "
                                   "never constraints, goals and unused declarations.")
    p.add_argument("files", nargs="+", metavar="FILE", help=".dsc files to check ('-' reads standard input)")
    p.add_argument("--format", choices=("human", "plain", "json"), default="human", help="output format")
    p.add_argument("--max-errors", type=_positive, default=None, metavar="N",
                   help="show at most N errors (all warnings are still counted)")
    p.add_argument("--no-warnings", action="store_true", help="do not show warnings")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def run(args) -> int:
    # Imported here: the CLI imports every command module to build its parser.
    from datastation.dsl.check import check_file, check_source
    from datastation.dsl.render import render, use_color

    diags, sources = [], {}
    for f in args.files:
        result = check_source(sys.stdin.read(), "<stdin>") if f == "-" else check_file(f)
        sources[result.file] = result.source
        diags.extend(result.diagnostics)
    if args.no_warnings:
        diags = [d for d in diags if d.severity is Severity.ERROR]
    errors = [d for d in diags if d.severity is Severity.ERROR]
    shown = diags
    if args.max_errors is not None and len(errors) > args.max_errors:
        keep = set(map(id, errors[: args.max_errors]))
        shown = [d for d in diags if d.severity is not Severity.ERROR or id(d) in keep]
    color = args.format == "human" and use_color(sys.stdout)
    out = render(shown, sources, args.format, color=color)
    sys.stdout.write(out)
    if args.format != "json":
        n_warn = len(diags) - len(errors)
        summary = _summary(len(errors), n_warn, len(args.files))
        if len(shown) < len(diags):
            summary += f" ({len(diags) - len(shown)} not shown: --max-errors {args.max_errors})"
        print(summary, file=sys.stderr if shown else sys.stdout)
    return ExitCode.ERRORS if errors else ExitCode.OK


def _summary(errors: int, warnings: int, files: int) -> str:
    if not errors and not warnings:
        return f"ok: {files} file{'s' if files != 1 else ''} checked, no problems"
    return f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
