"""The value types built-in and user functions exchange, as the checker names them.

The checker reads annotations by name (never importing anything), mapping `int`, `float`,
`str`, `bool`, `list[T]`, `dict`, `Any`, `Table`, `Model`, `Schema` and `Column` to its own
types. These aliases make the same annotations meaningful to Python.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .column import Column
from .errors import BuiltinError
from .models import LinearModel

Table = pd.DataFrame
"""A table of rows: a pandas DataFrame."""

Model = LinearModel
"""A trained model that is safe to send across a trust boundary (JSON, never pickle)."""

Schema = dict[str, str]
"""Column name -> column type (`int`, `float`, `string`, `bool`, `date`, `datetime`)."""

__all__ = ["Any", "BuiltinError", "Column", "Model", "Schema", "Table"]

