"""`dsc fmt FILE...`: rewrite .dsc files in the canonical layout (docs/formatting.md).

Prints the formatted text by default; `-w` rewrites changed files in place (atomically),
`--check` lists the files that would change and exits 1, `--diff` shows a unified diff.
Files with syntax errors are reported and never written. Exit 2: usage error, unreadable
file, or the formatter refused (DSC098).
"""

from __future__ import annotations

import difflib
import os
import stat
import sys
import tempfile
from pathlib import Path

from datastation.dsl import codes
from datastation.dsl.diagnostics import Diagnostic, Span, error

from . import common as cs
from .common import ExitCode

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = ExitCode.OK, ExitCode.ERRORS, ExitCode.USAGE
STDIN = "-"
STDIN_NAME = "<stdin>"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fmt",
        help="format .dsc files in the canonical layout",
        description="Format .dsc files in the canonical layout. Comments are kept; a file with "
        "syntax errors is reported and left unchanged.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="a .dsc file, or - for standard input")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-w", "--write", action="store_true", help="rewrite files in place when they change")
    mode.add_argument("--check", action="store_true", help="list files that would change; exit 1 if any")
    p.add_argument("--diff", action="store_true", help="show a unified diff instead of the formatted text")
    p.add_argument(
        "--format", dest="diag_format", choices=("human", "plain", "json"), default="human",
        help="how diagnostics are printed (default: human)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    if args.write and STDIN in args.files:
        cs.fail("-w cannot rewrite standard input")
        return EXIT_USAGE
    status = EXIT_OK
    for name in args.files:
        status = max(status, _one(name, args))
    return status


def _read(name: str) -> tuple[str | None, Diagnostic | None]:
    if name != STDIN:
        from datastation.dsl.parser import read_source  # the parser loads only when `dsc fmt` runs

        return read_source(name)
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, error(codes.UNREADABLE_FILE, f"standard input is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                           Span(file=STDIN_NAME))
    return text.removeprefix("\ufeff"), None


def _one(name: str, args) -> int:
    shown = STDIN_NAME if name == STDIN else name
    text, problem = _read(name)
    if problem is not None:
        _report([problem], {}, args.diag_format)
        return EXIT_USAGE
    from datastation.dsl.formatter import REFUSED, format_source

    out, diags = format_source(text, shown)
    if out is None:
        _report(diags, {shown: text}, args.diag_format)
        return EXIT_USAGE if any(d.code == REFUSED for d in diags) else EXIT_ERRORS
    changed = out != text
    if args.diff and changed:
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(keepends=True), out.splitlines(keepends=True), f"{shown} (original)", f"{shown} (formatted)"
            )
        )
    if args.check:
        if changed:
            if not args.diff:
                print(shown)
            return EXIT_ERRORS
        return EXIT_OK
    if args.write:
        if changed:
            try:
                _write_atomic(Path(name), out)
            except OSError as exc:
                cs.fail(f"cannot write {name}: {exc.strerror or exc}")
                return EXIT_USAGE
        return EXIT_OK
    if not args.diff:
        sys.stdout.write(out)
    return EXIT_OK


def _write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see the old or the new file, never a mix."""
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _report(diags, sources: dict[str, str], fmt: str) -> None:
    """Diagnostics go to stderr: stdout carries the formatted text."""
    from datastation.dsl.render import render, use_color

    color = fmt == "human" and use_color(sys.stderr)
    text = render(tuple(diags), sources, fmt, color=color)
    if text:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
