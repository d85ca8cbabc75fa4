"""Typed user functions shared by the invalid corpus programs (read with `ast`, never imported)."""

from __future__ import annotations


def train_model(train: list[Table], label: str) -> Model:
    """Train a classifier on the given tables."""


def score(model: Model, data: Table, label: str) -> float:
    """Accuracy of a model on a table."""


def size(data: Table) -> int:
    """Number of rows."""


def join_tables(left: Table, right: Table, on: str) -> Table:
    """Join two tables on a column."""


def share_schema(data: Table) -> Schema:
    """The column names and types of a table."""


def is_clean(data: Table) -> bool:
    """Whether a table has no missing values."""


def summary(data: Table, column: str, min_group: int = 50) -> Table:
    """Group counts of a column, groups under `min_group` suppressed."""


def anything(x, y=1, *rest, **options):
    """An unannotated function: any arguments fit."""


def top_rows(data: Table, /, limit: int) -> Table:
    """The first `limit` rows (`data` is positional-only)."""


def tagged(data: Table, /, **tags) -> Table:
    """A positional-only table and any keyword tags."""


def split(data: Table, *, by: Column, parts: int = 2) -> list[Table]:
    """Keyword-only parameters after a bare star."""
