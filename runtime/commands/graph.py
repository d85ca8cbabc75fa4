"""`dsc graph FILE [-o OUT]`: the dataflow graph as DOT, SVG or PNG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..graphviz import GraphvizMissing, render
from . import common as cs

FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}


def register(sub) -> None:
    p = sub.add_parser(
        "graph",
        help="draw the dataflow graph (agents, data, contracts, kept results, recipients)",
        description="Write the dataflow graph as Graphviz DOT (standard output by default). "
        "An output file ending in .svg, .png or .pdf is rendered with Graphviz `dot`.",
    )
    p.add_argument("file", metavar="FILE", help="the .dsc file")
    p.add_argument("-o", "--output", metavar="OUT", help="output file: .dot, .svg, .png or .pdf")
    p.add_argument("--format", choices=sorted(set(FORMATS.values())), help="output format (default: from OUT's suffix)")
    p.set_defaults(func=run)


def run(args) -> int:
    from datastation.contracts.dataflow import build, to_dot
    from datastation.contracts.loading import load_checked

    fmt = args.format
    if fmt is None:
        suffix = Path(args.output).suffix.lower() if args.output else ".dot"
        fmt = FORMATS.get(suffix)
        if fmt is None:
            return cs.fail(f"cannot tell the format of '{args.output}': use .dot, .svg, .png or .pdf, or --format",
                           cs.ExitCode.USAGE)
    loaded = load_checked(args.file)
    if not loaded.ok:
        cs.print_diagnostics(loaded)
        return 1
    dot = to_dot(build(loaded.scenario), Path(args.file).stem)
    if fmt == "dot":
        data = dot.encode("utf-8")
    else:
        try:
            data = render(dot, fmt)
        except (GraphvizMissing, RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            return cs.fail(exc, cs.ExitCode.USAGE)
    if args.output:
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            return cs.fail(f"cannot write {args.output}: {exc.strerror or exc}", cs.ExitCode.USAGE)
    elif fmt == "dot":
        sys.stdout.write(dot)
    else:
        sys.stdout.buffer.write(data)
    return 0
