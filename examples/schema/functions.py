"""User functions of the schema example. They read data only through their parameters."""

from __future__ import annotations

import pandas as pd

from datastation.stdlib.tables import schema
from datastation.stdlib.types import Table


def profile(data: Table) -> Table:
    """Describe each column without revealing any value: its type, share of missing values and number of distinct values.

    One row per column: `column`, `type`, `missing` (a fraction, 0 to 1) and `distinct`.
    """
    types = schema(data)
    rows = [
        {
            "column": name,
            "type": types[name],
            "missing": round(float(data[name].isna().mean()), 4) if len(data) else 0.0,
            "distinct": int(data[name].nunique(dropna=True)),
        }
        for name in types
    ]
    return pd.DataFrame(rows, columns=["column", "type", "missing", "distinct"])
