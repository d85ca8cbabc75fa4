from __future__ import annotations

import pandas as pd
import pytest

from datastation.stdlib import queries
from datastation.stdlib.errors import BuiltinError

A = pd.DataFrame({"key": ["k1", "k2", "k3"], "age": [30, 40, 50]})
B = pd.DataFrame({"key": ["k2", "k3", "k4"], "minutes": [1.5, 2.5, 3.5]})


def test_sql_join_of_two_tables():
    out = queries.sql("SELECT a.key, a.age, b.minutes FROM a JOIN b ON a.key = b.key ORDER BY a.key", A, B)
    assert out.to_dict("records") == [
        {"key": "k2", "age": 40, "minutes": 1.5},
        {"key": "k3", "age": 50, "minutes": 2.5},
    ]


def test_select_over_one_table():
    out = queries.select("SELECT count(*) AS n, sum(age) AS total FROM data WHERE age > 30", A)
    assert out.to_dict("records") == [{"n": 2, "total": 90}]


def test_sql_tables_with_names():
    out = queries.sql_tables(
        "SELECT count(*) AS n FROM people p JOIN usage u USING (key)", [A, B], ["people", "usage"]
    )
    assert int(out["n"][0]) == 2


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY a TO '/tmp/datastation-leak.csv'",
        "ATTACH '/tmp/datastation-leak.db'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SELECT * FROM secret_frame",  # a Python variable in scope must stay invisible
    ],
)
def test_sandbox_refuses_escapes(query):
    secret_frame = pd.DataFrame({"s": [42]})  # noqa: F841 - the replacement-scan bait
    with pytest.raises(BuiltinError):
        queries.sql(query, A, B)


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (queries.sql, ("", A, B)),
        (queries.sql, ("SELEC nonsense", A, B)),
        (queries.sql, ("SELECT * FROM a", A, "not a table")),
        (queries.sql_tables, ("SELECT 1", [A, B], ["x"])),
        (queries.sql_tables, ("SELECT 1", [A, B], ["x", "X"])),
        (queries.sql_tables, ("SELECT 1", [A], ["bad name"])),
    ],
)
def test_bad_arguments(call, args):
    with pytest.raises(BuiltinError):
        call(*args)


def test_inputs_are_not_modified():
    before = A.copy()
    queries.sql("SELECT * FROM a", A, B)
    pd.testing.assert_frame_equal(A, before)
