from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from datastation.stdlib import tables
from datastation.stdlib.errors import BuiltinError


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6, 7],
            "region": ["n", "n", "n", "s", "s", "e", None],
            "age": [30.0, 40.0, np.nan, 20.0, 60.0, 50.0, 10.0],
            "member": [True, False, True, True, False, False, True],
        }
    )


def test_shape_facts(people):
    assert tables.rows(people) == 7
    assert tables.rows(people.iloc[:0]) == 0
    assert tables.columns(people) == ["id", "region", "age", "member"]
    assert tables.count(people, "age") == 6
    assert tables.count(people, "region") == 6


def test_schema_maps_to_dsc_column_types():
    frame = pd.DataFrame(
        {
            "i": [1],
            "f": [1.5],
            "s": ["x"],
            "b": [True],
            "t": pd.to_datetime(["2024-01-01 10:00"]),
            "d": [dt.date(2024, 1, 1)],
        }
    )
    assert tables.schema(frame) == {"i": "int", "f": "float", "s": "string", "b": "bool", "t": "datetime", "d": "date"}


def test_schema_reads_iso_text_as_dates_like_the_escrow():
    frame = pd.DataFrame(
        {
            "d": ["2024-01-01", None],
            "t": ["2024-01-01 10:00:00", "2024-01-02T11:30"],
            "mixed": ["2024-01-01", "soon"],
            "empty": [None, None],
        }
    )
    assert tables.schema(frame) == {"d": "date", "t": "datetime", "mixed": "string", "empty": "string"}


def test_statistics_skip_missing(people):
    assert tables.mean(people, "age") == pytest.approx(35.0)
    assert tables.minimum(people, "age") == 10.0
    assert tables.maximum(people, "age") == 60.0
    assert tables.total(people, "age") == 210.0
    assert tables.mean(people, "member") == pytest.approx(4 / 7)


def test_min_group_size(people):
    assert tables.min_group_size(people, ["region"]) == 1  # e, and the missing region
    assert tables.min_group_size(people.dropna(subset=["region"]), ["region"]) == 1
    assert tables.min_group_size(people[people.region.isin(["n", "s"])], ["region"]) == 2
    assert tables.min_group_size(people, []) == 7
    assert tables.min_group_size(people.iloc[:0], ["region"]) == 0


@pytest.mark.parametrize(
    ("min_group", "kept"),
    [(1, ["e", "n", "s", None]), (2, ["n", "s"]), (3, ["n"]), (4, [])],
)
def test_aggregate_suppresses_small_groups(people, min_group, kept):
    out = tables.aggregate(people, ["region"], "count", "id", min_group)
    assert list(out.columns) == ["region", "n", "count_id"]
    assert [None if pd.isna(r) else r for r in out["region"]] == kept
    assert (out["n"] >= min_group).all()


def test_aggregate_metrics(people):
    out = tables.aggregate(people, ["region"], "mean", "age", 2).set_index("region")
    assert out.loc["n", "mean_age"] == pytest.approx(35.0)  # NaN skipped; n still counts the row
    assert out.loc["n", "n"] == 3
    assert out.loc["s", "mean_age"] == pytest.approx(40.0)
    for metric, expected in [("sum", 80.0), ("median", 40.0), ("min", 20.0), ("max", 60.0)]:
        got = tables.aggregate(people, ["region"], metric, "age", 2).set_index("region")
        assert got.loc["s", f"{metric}_age"] == expected


def test_aggregate_without_groups(people):
    out = tables.aggregate(people, [], "sum", "age", 5)
    assert out.to_dict("records") == [{"n": 7, "sum_age": 210.0}]
    assert tables.aggregate(people, [], "sum", "age", 8).empty


def test_aggregate_several_keys(people):
    out = tables.aggregate(people, ["region", "member"], "count", "id", 2)
    assert out[["region", "member", "n"]].to_dict("records") == [{"region": "n", "member": True, "n": 2}]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metric": "variance"},
        {"min_group": 0},
        {"min_group": True},
        {"min_group": 2.5},
        {"column": "missing"},
        {"by": ["nope"]},
        {"column": "region"},  # also a grouping column
        {"metric": "mean", "column": "region", "by": ["member"]},  # not numeric
    ],
)
def test_aggregate_rejects_bad_arguments(people, kwargs):
    args = {"by": ["region"], "metric": "count", "column": "id", "min_group": 2, **kwargs}
    with pytest.raises(BuiltinError):
        tables.aggregate(people, **args)


def test_errors_are_builtin_errors(people):
    with pytest.raises(BuiltinError):
        tables.rows([1, 2])
    with pytest.raises(BuiltinError):
        tables.mean(people, "region")
    with pytest.raises(BuiltinError):
        tables.mean(people.iloc[:0], "age")
    with pytest.raises(BuiltinError):
        tables.count(people, "nope")
