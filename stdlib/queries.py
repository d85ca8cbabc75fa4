"""SQL over tables, run by an in-memory DuckDB that can see only the tables it is given.

The query text is part of the contract (so of its identity and of what owners approve).
The engine is sandboxed: no file, network or extension access, no access to Python
variables, and the configuration is locked before the query runs.
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from . import _frames
from .errors import BuiltinError
from .types import Table

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "python_enable_replacements": False,
    "threads": 1,  # one thread: a deterministic row order for the same input
}


def _run(query: object, named: dict[str, pd.DataFrame]) -> pd.DataFrame:
    if not isinstance(query, str) or not query.strip():
        raise BuiltinError("`query` must be a non-empty SQL string")
    con = duckdb.connect(":memory:", config=dict(_CONFIG))
    try:
        for name, frame in named.items():
            con.register(name, frame)
        con.execute("SET lock_configuration = true")
        try:
            result = con.execute(query)
        except duckdb.Error as exc:
            raise BuiltinError(f"SQL error ({type(exc).__name__})") from None  # its text may quote data
        if result.description is None:
            raise BuiltinError("the query returned no table (use a SELECT)")
        return result.df()
    finally:
        con.close()


def sql(query: str, a: Table, b: Table) -> Table:
    """Run a SQL query over two tables, visible in the query as `a` and `b` (e.g. a join).

    Example: `SELECT a.*, b.minutes FROM a JOIN b USING (user_key)`. Add ORDER BY for a
    stable row order.
    """
    return _run(query, {"a": _frames.table(a, "a"), "b": _frames.table(b, "b")})


def select(query: str, data: Table) -> Table:
    """Run a SQL query over one table, visible in the query as `data`."""
    return _run(query, {"data": _frames.table(data)})


def sql_tables(query: str, tables: list[Table], names: list[str]) -> Table:
    """Run a SQL query over any number of tables, each visible under the name at the same position in `names`."""
    frames = _frames.tables(tables, "tables")
    labels = _frames.names(names, "names")
    if len(labels) != len(frames):
        raise BuiltinError(f"{len(frames)} table(s) but {len(labels)} name(s)")
    if len({n.lower() for n in labels}) != len(labels):
        raise BuiltinError("table names must be distinct")
    for label in labels:
        if not _NAME.match(label):
            raise BuiltinError("table names are letters, digits and underscores")
    return _run(query, dict(zip(labels, frames)))
