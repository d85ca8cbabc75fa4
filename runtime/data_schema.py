"""Schema inference for data element contents (csv, parquet, json) and declared-schema checks.

Column types are those of the language: int, float, string, bool, date, datetime.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

FORMATS = ("csv", "parquet", "json")
COLUMN_TYPES = ("int", "float", "string", "bool", "date", "datetime")
_EXT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\Z")
# Declared type -> inferred types it accepts (an int column fits a float declaration, ...).
_ACCEPTS = {"float": {"float", "int"}, "datetime": {"datetime", "date"}, "string": set(COLUMN_TYPES)}  # any value can be read as text


class SchemaError(Exception):
    """Contents cannot be read as the format, or do not match the declared schema."""


class DuplicateColumn(SchemaError):
    """Two columns of the contents have the same name (one would silently hide the other)."""

    def __init__(self, name: str):
        super().__init__(f"column {name!r} appears twice in the data: rename one of them")
        self.name = name


def format_from_path(path: str | Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise SchemaError(f"unknown data format {explicit!r} (use one of {', '.join(FORMATS)})")
        return explicit
    fmt = _EXT.get(Path(path).suffix.lower())
    if fmt is None:
        raise SchemaError(f"cannot tell the format of {Path(path).name} from its extension; pass --format csv|parquet|json")
    return fmt


def infer_schema(contents: bytes, fmt: str) -> dict[str, str]:
    """Column name -> type, in column order. Raises SchemaError on unreadable contents."""
    try:
        if fmt == "csv":
            return _arrow_schema(_read_csv(contents))
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return _arrow_schema(pq.read_table(io.BytesIO(contents)))
        if fmt == "json":
            return _json_schema(contents)
    except SchemaError:
        raise
    except Exception as exc:  # pyarrow raises a variety of errors for malformed input
        raise SchemaError(f"cannot read the contents as {fmt}: {_first_line(exc)}") from None
    raise SchemaError(f"unknown data format {fmt!r}")


def infer_schema_path(path: str | Path, fmt: str) -> dict[str, str]:
    """`infer_schema` of a file, read by pyarrow from the path (columnar, never the raw file as one
    `bytes`; JSON, which is parsed whole anyway, is the exception)."""
    try:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
                if not head.strip() and not fh.read(1):
                    raise SchemaError("the file is empty")
            return _arrow_schema(pacsv.read_csv(str(path)))
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return _arrow_schema(pq.read_table(str(path)))
        if fmt == "json":
            return _json_schema(Path(path).read_bytes())
    except SchemaError:
        raise
    except Exception as exc:  # pyarrow raises a variety of errors for malformed input
        raise SchemaError(f"cannot read the contents as {fmt}: {_first_line(exc)}") from None
    raise SchemaError(f"unknown data format {fmt!r}")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _read_csv(contents: bytes):
    import pyarrow.csv as pacsv

    if not contents.strip():
        raise SchemaError("the file is empty")
    return pacsv.read_csv(io.BytesIO(contents))


def _arrow_schema(table) -> dict[str, str]:
    import pyarrow as pa

    out: dict[str, str] = {}
    for name, col in zip(table.column_names, table.columns):
        if name in out:
            raise DuplicateColumn(name)
        t = col.type
        if pa.types.is_boolean(t):
            out[name] = "bool"
        elif pa.types.is_integer(t):
            out[name] = "int"
        elif pa.types.is_floating(t) or pa.types.is_decimal(t):
            out[name] = "float"
        elif pa.types.is_date(t):
            out[name] = "date"
        elif pa.types.is_timestamp(t):
            out[name] = "datetime"
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            out[name] = _string_kind([v for v in col.to_pylist() if v is not None])
        else:
            out[name] = "string"
    if not out:
        raise SchemaError("no columns found")
    return out


def _string_kind(values: list) -> str:
    strs = [v for v in values if isinstance(v, str)]
    if strs and len(strs) == len(values):
        if all(_DATE.match(v) for v in strs):
            return "date"
        if all(_DATETIME.match(v) for v in strs):
            return "datetime"
    return "string"


def _json_schema(contents: bytes) -> dict[str, str]:
    text = contents.decode("utf-8-sig")
    if not text.strip():
        raise SchemaError("the file is empty")
    try:
        data = json.loads(text)
    except ValueError:
        try:  # JSON lines
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise SchemaError(f"not valid JSON: {exc}") from None
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        columns = {str(k): v for k, v in data.items()}  # {column: [values]}
    elif isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = {}
        for record in data:
            for k in record:
                columns.setdefault(str(k), [])
        for record in data:
            for k in columns:
                columns[k].append(record.get(k))
    else:
        raise SchemaError("JSON data must be a non-empty list of records or an object of column lists")
    return {name: _py_kind([v for v in values if v is not None], name) for name, values in columns.items()}


def _py_kind(values: list, name: str) -> str:
    if not values:
        return "string"
    kinds = set()
    for v in values:
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, str):
            kinds.add("string")
        else:
            raise SchemaError(f"column {name!r} holds nested values (lists or objects); only flat records are data")
    if kinds == {"bool"}:
        return "bool"
    if kinds == {"int"}:
        return "int"
    if kinds <= {"int", "float"}:
        return "float"
    if kinds == {"string"}:
        return _string_kind(values)
    raise SchemaError(f"column {name!r} mixes {', '.join(sorted(kinds))} values")


def normalise_declared(declared) -> dict[str, str]:
    """Validate a declared schema (mapping column -> type)."""
    if not isinstance(declared, dict) or not declared:
        raise SchemaError("a declared schema must be a non-empty mapping of column -> type")
    out = {}
    for col, typ in declared.items():
        if not isinstance(col, str) or typ not in COLUMN_TYPES:
            raise SchemaError(f"declared column {col!r}: type must be one of {', '.join(COLUMN_TYPES)} (got {typ!r})")
        out[col] = typ
    return out


def compare_schema(declared: dict[str, str], inferred: dict[str, str]) -> list[str]:
    """Differences between a declared and an inferred schema (empty when they fit)."""
    problems = []
    for col, typ in declared.items():
        if col not in inferred:
            problems.append(f"declared column {col!r} is missing from the data")
        elif inferred[col] not in _ACCEPTS.get(typ, {typ}):
            problems.append(f"column {col!r} is declared {typ} but the data holds {inferred[col]}")
    for col in inferred:
        if col not in declared:
            problems.append(f"column {col!r} is in the data but not in the declared schema")
    return problems
