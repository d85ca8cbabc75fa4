"""Treatment-effect estimates: difference in means and regression adjustment for confounders.

The answer is a handful of numbers (effect, standard error, 95% interval, group sizes),
never rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import _frames
from .errors import BuiltinError
from .types import Column, Table

_Z95 = 1.959963984540054
MIN_ARM = 10
"""Fewest rows each arm (treated, untreated) must have: an estimate over a handful of people
would describe those people. A floor inside the built-in holds even for pre-approved queries."""


def _treatment(frame: pd.DataFrame, treatment: str) -> pd.Series:
    """The treatment column as 0.0/1.0; it must have exactly two values."""
    _frames.has_columns(frame, [treatment])
    column = frame[treatment]
    if not _frames.is_numeric(column):
        raise BuiltinError("the `treatment` column must be boolean or 0/1")
    values = set(column.dropna().astype("float64").unique())
    if not values <= {0.0, 1.0}:
        raise BuiltinError("the `treatment` column must be boolean or 0/1")
    return column.astype("float64")


def _design(frame: pd.DataFrame, confounders: list[str]) -> pd.DataFrame:
    """Confounders as numeric columns; text/categorical ones one-hot encoded (first level dropped)."""
    parts = []
    for name in confounders:
        column = frame[name]
        if _frames.is_numeric(column):
            parts.append(column.astype("float64").rename(name))
        else:
            dummies = pd.get_dummies(column.astype("string"), prefix=name, drop_first=True, dtype="float64")
            parts.append(dummies)
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)


def difference_in_means(data: Table, treatment: Column, outcome: Column) -> float:
    """The mean outcome of treated rows minus that of untreated rows (no adjustment)."""
    frame = _frames.table(data)
    t = _treatment(frame, treatment)
    y = _frames.numeric(frame, outcome)
    ok = t.notna() & y.notna()
    t, y = t[ok], y[ok]
    if min(int((t == 1).sum()), int((t == 0).sum())) < MIN_ARM:
        raise BuiltinError(f"treated and untreated rows each need at least {MIN_ARM}")
    return float(y[t == 1].mean() - y[t == 0].mean())


def causal_effect(data: Table, treatment: Column, outcome: Column, confounders: list[Column]) -> dict:
    """Estimate the average effect of `treatment` on `outcome`, adjusting for `confounders` by linear regression.

    Returns `effect`, `std_error`, `ci_low`, `ci_high` (95%), `naive_difference`, `n`,
    `n_treated`, `n_control` and `method`. Rows with a missing value are skipped; each of
    the treated and untreated groups needs at least 10 rows.
    """
    frame = _frames.table(data)
    confounders = _frames.names(confounders, "confounders")
    _frames.has_columns(frame, [treatment, outcome, *confounders])
    if treatment in confounders or outcome in confounders or treatment == outcome:
        raise BuiltinError("treatment, outcome and confounders must be different columns")
    frame = frame[[treatment, outcome, *confounders]].dropna()
    t = _treatment(frame, treatment)
    y = _frames.numeric(frame, outcome)
    n_treated, n_control = int((t == 1).sum()), int((t == 0).sum())
    if min(n_treated, n_control) < MIN_ARM:
        raise BuiltinError(f"the treated and the untreated rows each need at least {MIN_ARM}")
    x = pd.concat([pd.Series(1.0, index=frame.index, name="const"), t.rename("treatment"), _design(frame, confounders)], axis=1)
    xm, ym = x.to_numpy(dtype="float64"), y.to_numpy(dtype="float64")
    n, k = xm.shape
    if n <= k:
        raise BuiltinError(f"too few rows to adjust for {len(confounders)} confounder(s)")
    beta, *_ = np.linalg.lstsq(xm, ym, rcond=None)
    residual = ym - xm @ beta
    sigma2 = float(residual @ residual) / (n - k)
    std_error = math.sqrt(max(sigma2 * float(np.linalg.pinv(xm.T @ xm)[1, 1]), 0.0))
    effect = float(beta[1])
    return {
        "effect": effect,
        "std_error": std_error,
        "ci_low": effect - _Z95 * std_error,
        "ci_high": effect + _Z95 * std_error,
        "naive_difference": float(ym[t.to_numpy() == 1].mean() - ym[t.to_numpy() == 0].mean()),
        "n": n,
        "n_treated": n_treated,
        "n_control": n_control,
        "method": "regression adjustment (OLS)" if confounders else "difference in means (OLS)",
    }


def cohort_effect(
    cohort: Table,
    registry: Table,
    on: Column["cohort", "registry"],
    treatment: Column["cohort"],
    outcome: Column["registry"],
    confounders: list[Column["registry"]],
) -> dict:
    """Join a cohort (ids and `treatment`) to a registry (ids, `outcome`, confounders) on `on`, then estimate the effect.

    Returns what `causal_effect` returns, plus `n_cohort` (cohort rows) and `n_matched`
    (cohort rows found in the registry).
    """
    left, right = _frames.table(cohort, "cohort"), _frames.table(registry, "registry")
    _frames.has_columns(left, [on, treatment], "cohort")
    _frames.has_columns(right, [on, outcome], "registry")
    if left[on].duplicated().any():
        raise BuiltinError("the cohort lists some value of `on` more than once")
    wanted = [c for c in dict.fromkeys([on, outcome, *_frames.names(confounders, "confounders")]) if c != treatment]
    _frames.has_columns(right, wanted, "registry")
    joined = left[[on, treatment]].merge(right[wanted].drop_duplicates(subset=[on]), on=on, how="inner")
    answer = causal_effect(joined, treatment, outcome, confounders)
    answer["n_cohort"] = int(len(left))
    answer["n_matched"] = int(len(joined))
    return answer
