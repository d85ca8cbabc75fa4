"""`dsc data add ... --dsc FILE.dsc`: a data element's declaration in its owner's .dsc file, and
the located diagnostics of contents that do not fit it (client side, before anything is sent;
the escrow compares the declared schema again when it stores the contents).

Diagnostics: DSC080 at the declaration when the columns differ from its declared schema,
DSC081 at the header of the data file when two columns have one name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datastation.dsl import codes, ir
from datastation.dsl.diagnostics import Diagnostic, Span, error

from .data_schema import DuplicateColumn, SchemaError, compare_schema, infer_schema


@dataclass
class Declaration:
    decl: ir.Data
    file: str  # the .dsc file
    source: str
    path: Path  # the declared data file, resolved beside the .dsc file

    @property
    def schema(self) -> dict[str, str] | None:
        return {c.name.name: c.type.name for c in self.decl.schema} if self.decl.schema else None


def find_declaration(dsc: str | Path, key: str) -> Declaration:
    """The declaration of `key` in `dsc`; SchemaError when the file cannot be read or has none."""
    from datastation.dsl.check import check_file

    result = check_file(dsc)
    program = result.program
    found = [d for d in (program.decls if program else ()) if isinstance(d, ir.Data) and d.qualified == key]
    if not found:
        unreadable = [d for d in result.errors if d.code == codes.UNREADABLE_FILE]
        if unreadable:
            raise SchemaError(f"cannot read {dsc}: {unreadable[0].message}")
        raise SchemaError(f"{dsc} declares no data element {key}")
    decl = found[0]
    return Declaration(decl, result.file, result.source, Path(dsc).resolve().parent / decl.path.value)


def contents_diagnostics(contents: bytes, fmt: str, data_file: str,
                         declared: Declaration | None) -> tuple[list[Diagnostic], dict[str, str]]:
    """(diagnostics, sources to render them with) of `contents` against its declaration."""
    header = _header(contents, fmt)
    sources = {data_file: header}
    try:
        inferred = infer_schema(contents, fmt)
    except DuplicateColumn as exc:
        return [error(codes.DATA_DUPLICATE_COLUMN, str(exc), _column_span(data_file, header, exc.name),
                      help="each column of a data element needs its own name")], sources
    except SchemaError:  # unreadable contents: the escrow refuses them (and audits the refusal)
        return [], sources
    if declared is None or declared.schema is None:
        return [], sources
    problems = compare_schema(declared.schema, inferred)
    if not problems:
        return [], sources
    sources[declared.file] = declared.source
    d = declared.decl
    last = d.schema[-1].span
    span = d.schema[0].span._replace(end_line=last.end_line, end_column=last.end_column, end=last.end)
    return [error(codes.DATA_SCHEMA_MISMATCH, f"{data_file} does not match the schema declared for {d.qualified}: "
                  + "; ".join(problems), span,
                  help=f"the data has the columns {', '.join(f'{c}: {t}' for c, t in inferred.items())}; "
                       f"fix the data or the declaration")], sources


def _header(contents: bytes, fmt: str) -> str:
    if fmt != "csv":
        return ""
    return contents.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")


def _column_span(file: str, header: str, name: str) -> Span:
    """The second occurrence of `name` in a CSV header line (the whole line when not found)."""
    cells, col = header.split(","), 1
    seen = False
    for cell in cells:
        if cell.strip().strip('"') == name:
            if seen:
                return Span(file, 1, col, 1, col + len(cell), col - 1, col - 1 + len(cell))
            seen = True
        col += len(cell) + 1
    return Span(file, 1, 1, 1, len(header) + 1, 0, len(header))
