"""Argument checks shared by the built-ins (private: not built-ins themselves)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import BuiltinError


def table(value: object, what: str = "data") -> pd.DataFrame:
    """`value` as a DataFrame, or a clear error naming the argument."""
    if isinstance(value, pd.DataFrame):
        return value
    raise BuiltinError(f"`{what}` must be a table")


def tables(values: object, what: str = "train") -> list[pd.DataFrame]:
    """A non-empty list of tables."""
    if isinstance(values, pd.DataFrame):
        return [values]
    if not isinstance(values, (list, tuple)) or not values:
        raise BuiltinError(f"`{what}` must be a non-empty list of tables")
    return [table(v, f"{what}[{i}]") for i, v in enumerate(values)]


def has_columns(frame: pd.DataFrame, names: Iterable[str], what: str = "data") -> None:
    """Fail when a column is missing (naming the argument, not the column: names can be data)."""
    for name in names:
        if not isinstance(name, str):
            raise BuiltinError(f"`{what}`: column names must be strings")
        if name not in frame.columns:
            raise BuiltinError(f"`{what}` has no column of the name asked for")


def names(value: object, what: str) -> list[str]:
    """A list of column names (a single string is accepted as a list of one)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise BuiltinError(f"`{what}` must be a list of column names")
    return list(value)


def is_numeric(series: pd.Series) -> bool:
    """Numbers or booleans (what a linear model can use directly)."""
    return pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series)


def numeric(frame: pd.DataFrame, column: str, what: str = "data") -> pd.Series:
    """A column as floats, or a clear error when it is not numeric."""
    has_columns(frame, [column], what)
    series = frame[column]
    if not is_numeric(series):
        raise BuiltinError(f"a column of `{what}` asked for is not numeric")
    return series.astype("float64")


def scalar(value: object) -> object:
    """A numpy scalar as the plain Python value JSON understands."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
