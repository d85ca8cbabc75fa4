"""The tolerant result comparison the no-trust tests use (tests/results_close.py) still bites."""

import io
import json

import pandas as pd
import pytest

from results_close import assert_results_close


def test_json_floats_within_tolerance_are_equal_and_beyond_are_not():
    a = json.dumps({"coef": [0.1234567890123, 2.0], "kind": "logistic"}).encode()
    assert_results_close("m.model.json", a, json.dumps({"coef": [0.1234567890124, 2.0], "kind": "logistic"}).encode())
    with pytest.raises(AssertionError):
        assert_results_close("m.model.json", a, json.dumps({"coef": [0.1235, 2.0], "kind": "logistic"}).encode())
    with pytest.raises(AssertionError):
        assert_results_close("m.model.json", a, json.dumps({"coef": [0.1234567890123, 2.0], "kind": "tree"}).encode())


def test_tables_compare_with_tolerance():
    def pq(values):
        buf = io.BytesIO()
        pd.DataFrame({"x": values, "k": ["a", "b"]}).to_parquet(buf, index=False)
        return buf.getvalue()

    assert_results_close("t.parquet", pq([1.0, 2.0]), pq([1.0 + 1e-12, 2.0]))
    with pytest.raises(AssertionError):
        assert_results_close("t.parquet", pq([1.0, 2.0]), pq([1.1, 2.0]))


def test_other_files_must_be_identical():
    with pytest.raises(AssertionError):
        assert_results_close("r.bin", b"a", b"b")
