"""DSC055-DSC058: a data declaration needs a known format, known column types and a file."""

from __future__ import annotations

from .. import codes
from ..diagnostics import Related, error, warning
from ..types import COLUMN_TYPES
from ..walk import did_you_mean

CODES = (codes.UNKNOWN_FORMAT, codes.UNKNOWN_COLUMN_TYPE, codes.DUPLICATE_COLUMN, codes.MISSING_DATA_FILE)
FORMATS = ("csv", "parquet", "json")


def check(ctx):
    for d in ctx.program.data:
        if d.format.name not in FORMATS:
            yield error(codes.UNKNOWN_FORMAT, f"unknown data format '{d.format.name}'", d.format.span,
                        help=did_you_mean(d.format.name, FORMATS) or "use csv, parquet or json")
        seen = {}
        for col in d.schema or ():
            if col.type.name not in COLUMN_TYPES:
                yield error(codes.UNKNOWN_COLUMN_TYPE, f"unknown column type '{col.type.name}'", col.type.span,
                            help=did_you_mean(col.type.name, sorted(COLUMN_TYPES))
                            or "use one of: " + ", ".join(sorted(COLUMN_TYPES)))
            if col.name.name in seen:
                yield error(codes.DUPLICATE_COLUMN, f"column '{col.name.name}' is declared twice", col.name.span,
                            related=[Related(message="first declared here", span=seen[col.name.name])])
            else:
                seen[col.name.name] = col.name.span
        for label, lit in (("data", d.path), ("mock", d.mock)):
            if lit is None:
                continue
            if not (ctx.base_dir / lit.value).is_file():
                yield warning(codes.MISSING_DATA_FILE, f"{label} file '{lit.value}' does not exist", lit.span,
                              help="paths are relative to the .dsc file; the file must exist when the data is stored")
