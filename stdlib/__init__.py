"""Built-in functions for the canonical data-sharing patterns.

Every built-in is a plain top-level `def` in one of `MODULES`, fully annotated with the
type names the checker understands (`int`, `float`, `str`, `bool`, `list[T]`, `dict`, `Any`,
`Table`, `Model`, `Schema`) and documented by a one-line summary. The checker reads these
files with `ast`; the escrow calls the functions through `resolve`. Tables are pandas
DataFrames, models are `models.LinearModel` (JSON, never pickle; see `serialize`).

This package imports nothing heavy until a built-in is resolved.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

MODULES = ("tables", "models", "queries", "causal")

BUILTINS = (
    # tables
    "rows",
    "columns",
    "schema",
    "count",
    "mean",
    "minimum",
    "maximum",
    "total",
    "min_group_size",
    "aggregate",
    # models
    "fit_classifier",
    "train_classifier",
    "predict",
    "accuracy",
    # queries
    "sql",
    "select",
    "sql_tables",
    # causal
    "difference_in_means",
    "causal_effect",
    "cohort_effect",
)

HERE = Path(__file__).resolve().parent


def module_paths() -> list[Path]:
    """The source files holding the built-ins, in `MODULES` order (what the checker reads)."""
    return [HERE / f"{name}.py" for name in MODULES]


def resolve(name: str) -> Callable:
    """The built-in function called `name`; KeyError if there is none."""
    if name not in BUILTINS:
        raise KeyError(name)
    for module_name in MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        func = getattr(module, name, None)
        if callable(func) and getattr(func, "__module__", None) == module.__name__:
            return func
    raise KeyError(name)  # pragma: no cover - the BUILTINS test keeps this unreachable
