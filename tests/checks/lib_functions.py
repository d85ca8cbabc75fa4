"""Typed user functions used by the checker rule tests (read with `ast`, never imported)."""

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


def clip(data: Table, low: float = 0.0, /, high: float = 1.0, *, scale: float = 1.0) -> Table:
    """Every kind of parameter but the variadic ones."""


def tagged(data: Table, /, **tags) -> Table:
    """A positional-only table and any keyword tags."""


def column_stat(data: Table, column: Column) -> float:
    """A statistic of one column of a table."""


def joined_stat(left: Table, right: Table, key: Column["left", "right"], value: Column["right"]) -> float:
    """Join on `key` (a column of both tables), then a statistic of `value` (a column of `right`)."""


def group_counts(data: Table, by: list[Column]) -> Table:
    """Row counts per group: the `by` columns and `count` (declared in RESULT_COLUMNS)."""


RESULT_COLUMNS = {"group_counts": ("*by", "count")}
