"""`dsc check FILE...`: every static check, with located diagnostics. A directory stands for
every `.dsc` file below it."""

from __future__ import annotations

import os
import sys

from datastation.dsl.diagnostics import Diagnostic, Severity

from .common import ExitCode


def register(sub) -> None:
    p = sub.add_parser("check", help="check .dsc files without running anything",
                       description="Check .dsc files statically: syntax, names, signatures, types, policies, "
                                   "never constraints, goals and unused declarations.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help=".dsc files to check: a directory checks every .dsc file below it, '-' reads standard input")
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

    diags, sources, files = [], {}, 0
    for arg in args.files:
        for f in _expand(arg):
            if isinstance(f, Diagnostic):  # a directory without .dsc files
                diags.append(f)
                continue
            result = check_source(sys.stdin.read(), "<stdin>") if f == "-" else check_file(f)
            sources[result.file] = result.source
            diags.extend(result.diagnostics)
            files += 1
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
        summary = _summary(len(errors), n_warn, files)
        if len(shown) < len(diags):
            summary += f" ({len(diags) - len(shown)} not shown: --max-errors {args.max_errors})"
        print(summary, file=sys.stderr if shown else sys.stdout)
    return ExitCode.ERRORS if errors else ExitCode.OK


def _expand(arg: str) -> list:
    """The files `arg` names: itself, or for a directory every `.dsc` file below it (sorted,
    hidden directories such as `.git` or `.dsc-escrow` skipped, symbolic links to directories
    not followed); a directory without any gives a DSC005 diagnostic instead."""
    if arg == "-" or not os.path.isdir(arg):
        return [arg]
    found = []
    for folder, dirs, names in os.walk(arg):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += sorted(os.path.join(folder, n) for n in names if n.endswith(".dsc"))
    if found:
        return found
    from datastation.dsl import codes
    from datastation.dsl.diagnostics import Span, error

    return [error(codes.UNREADABLE_FILE, "no .dsc file in this directory", Span(file=arg),
                  help="name a .dsc file, or a directory that holds some")]


def _summary(errors: int, warnings: int, files: int) -> str:
    if not errors and not warnings:
        return f"ok: {files} file{'s' if files != 1 else ''} checked, no problems"
    return f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
