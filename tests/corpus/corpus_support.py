"""Helpers for the corpus tests: a readable IR dump (spans left out) and diagnostics as plain data."""

from __future__ import annotations

import dataclasses
import enum

from datastation.dsl import ir
from datastation.dsl.diagnostics import Diagnostic


def dump_ir(node):
    """Plain data (dicts, lists, scalars) for an IR node, without spans: stable and diffable as YAML."""
    if isinstance(node, ir.Ident):
        return node.name
    if isinstance(node, ir.Program):
        return {"decls": [dump_ir(d) for d in node.decls], "comments": [c.text for c in node.comments]}
    if dataclasses.is_dataclass(node):
        out = {"node": type(node).__name__}
        for f in dataclasses.fields(node):
            if f.name == "span":
                continue
            out[f.name] = dump_ir(getattr(node, f.name))
        return out
    if isinstance(node, (tuple, list)):
        return [dump_ir(x) for x in node]
    if isinstance(node, enum.Enum):
        return node.value
    return node


def diag_record(d: Diagnostic, with_related: bool = False) -> dict:
    """The fields a corpus expectation pins down for one diagnostic."""
    s = d.span
    rec = {
        "code": d.code,
        "line": s.line,
        "column": s.column,
        "end_line": s.end_line,
        "end_column": s.end_column,
        "severity": d.severity.value,
    }
    if with_related and d.related:
        rec["related"] = [{"line": r.span.line, "column": r.span.column} for r in d.related]
    return rec
