"""User functions of the health example. They read data only through their parameters."""

from __future__ import annotations

import pandas as pd

from datastation.stdlib.types import Column, Table


def covariate_balance(
    cohort: Table,
    registry: Table,
    on: Column["cohort", "registry"],
    treatment: Column["cohort"],
    confounders: list[Column["registry"]],
) -> Table:
    """How different treated and untreated cohort patients are before treatment: one row per confounder.

    Columns: `confounder`, `mean_treated`, `mean_control` and `std_difference` (the
    standardised mean difference; above 0.1 in absolute value means adjustment matters).
    Text confounders are compared level by level (e.g. `sex=M`). Refuses groups of fewer
    than 10 patients: their means would describe individuals.
    """
    joined = cohort[[on, treatment]].merge(registry[[on, *confounders]], on=on, how="inner")
    is_treated = joined[treatment].astype(bool)
    if min(int(is_treated.sum()), int((~is_treated).sum())) < 10:
        raise ValueError("treated and untreated patients must each number at least 10")
    rows = []
    for name in confounders:
        column = joined[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            parts = {name: column.astype("float64")}
        else:
            levels = sorted(column.dropna().astype(str).unique())[1:]
            parts = {f"{name}={level}": (column.astype(str) == level).astype("float64") for level in levels}
        for label, values in parts.items():
            a, b = values[is_treated], values[~is_treated]
            spread = ((a.var() + b.var()) / 2) ** 0.5
            rows.append(
                {
                    "confounder": label,
                    "mean_treated": float(a.mean()),
                    "mean_control": float(b.mean()),
                    "std_difference": float((a.mean() - b.mean()) / spread) if spread > 0 else 0.0,
                }
            )
    return pd.DataFrame(rows, columns=["confounder", "mean_treated", "mean_control", "std_difference"])
