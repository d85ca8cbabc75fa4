"""Facts about tables and aggregate answers over them.

These built-ins reveal shapes and group-level statistics, never individual rows; `aggregate`
suppresses every group smaller than a minimum size.
"""

from __future__ import annotations

import re

import pandas as pd

from . import _frames
from .errors import BuiltinError
from .types import Column, Schema, Table

METRICS = ("count", "sum", "mean", "median", "min", "max")

# The columns of a built-in's result table, when its arguments tell them: read by the checker
# (with ast) to check column names used on the result (`ensure minimum(result, "n") >= 30`).
# "*by": the names in the list passed as `by`; "{metric}_{column}": the strings passed as those.
RESULT_COLUMNS = {"aggregate": ("*by", "n", "{metric}_{column}")}
# ISO text read from CSV counts as a date/datetime, as the escrow's schema inference does.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\Z")


def _column_type(series: pd.Series) -> str:
    """The .dsc column type of a pandas column."""
    api = pd.api.types
    if api.is_bool_dtype(series):
        return "bool"
    if api.is_integer_dtype(series):
        return "int"
    if api.is_float_dtype(series):
        return "float"
    if api.is_datetime64_any_dtype(series):
        return "datetime"
    values = series.dropna()
    if not len(values):
        return "string"
    if all(type(v).__name__ == "date" for v in values):
        return "date"
    if all(isinstance(v, str) for v in values):
        if all(_DATE.match(v) for v in values):
            return "date"
        if all(_DATETIME.match(v) for v in values):
            return "datetime"
    return "string"


def rows(data: Table) -> int:
    """The number of rows of a table."""
    return int(len(_frames.table(data)))


def columns(data: Table) -> list[str]:
    """The column names of a table, in order."""
    return [str(c) for c in _frames.table(data).columns]


def schema(data: Table) -> Schema:
    """The schema of a table: each column name mapped to its type (int, float, string, bool, date, datetime)."""
    frame = _frames.table(data)
    return {str(name): _column_type(frame[name]) for name in frame.columns}


def count(data: Table, column: Column) -> int:
    """The number of rows where `column` has a value (is not missing)."""
    frame = _frames.table(data)
    _frames.has_columns(frame, [column])
    return int(frame[column].notna().sum())


def mean(data: Table, column: Column) -> float:
    """The mean of a numeric column (missing values skipped)."""
    series = _frames.numeric(_frames.table(data), column).dropna()
    if series.empty:
        raise BuiltinError("the `column` asked for has no values to average")
    return float(series.mean())


def minimum(data: Table, column: Column) -> float:
    """The smallest value of a numeric column (missing values skipped)."""
    series = _frames.numeric(_frames.table(data), column).dropna()
    if series.empty:
        raise BuiltinError("the `column` asked for has no values")
    return float(series.min())


def maximum(data: Table, column: Column) -> float:
    """The largest value of a numeric column (missing values skipped)."""
    series = _frames.numeric(_frames.table(data), column).dropna()
    if series.empty:
        raise BuiltinError("the `column` asked for has no values")
    return float(series.max())


def total(data: Table, column: Column) -> float:
    """The sum of a numeric column (missing values skipped)."""
    return float(_frames.numeric(_frames.table(data), column).sum())


def min_group_size(data: Table, by: list[Column]) -> int:
    """The number of rows in the smallest group when grouping by the `by` columns (0 for an empty table)."""
    frame = _frames.table(data)
    keys = _frames.names(by, "by")
    _frames.has_columns(frame, keys)
    if frame.empty:
        return 0
    if not keys:
        return int(len(frame))
    return int(frame.groupby(keys, dropna=False, sort=False).size().min())


def aggregate(data: Table, by: list[Column], metric: str, column: Column, min_group: int) -> Table:
    """Group by the `by` columns and compute `metric` of `column`, suppressing groups under `min_group` rows.

    `metric` is one of count, sum, mean, median, min, max. The result has the `by` columns,
    `n` (the group's row count, always >= min_group) and `METRIC_COLUMN` (e.g. `mean_age`),
    sorted by the group keys. Groups smaller than `min_group` are left out entirely.
    """
    frame = _frames.table(data)
    keys = _frames.names(by, "by")
    if metric not in METRICS:
        raise BuiltinError(f"unknown `metric`; expected one of {', '.join(METRICS)}")
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 1:
        raise BuiltinError("`min_group` must be a whole number of at least 1")
    _frames.has_columns(frame, [*keys, column])
    if column in keys:
        raise BuiltinError("`column` is also a grouping column")
    values = frame[column] if metric == "count" else _frames.numeric(frame, column)
    name = f"{metric}_{column}"
    work = frame[keys].copy()
    work["__value"] = values
    if keys:
        grouped = work.groupby(keys, dropna=False, sort=True)["__value"]
        out = grouped.agg(["size", metric]).reset_index()
    else:
        series = work["__value"]
        out = pd.DataFrame({"size": [len(series)], metric: [getattr(series, metric)()]})
    out = out.rename(columns={"size": "n", metric: name})
    out = out[out["n"] >= min_group].reset_index(drop=True)
    out["n"] = out["n"].astype("int64")
    return out[[*keys, "n", name]]
