from __future__ import annotations

import ast
import functools
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import datastation.stdlib as stdlib
from datastation.stdlib import models, serialize
from datastation.stdlib.serialize import SerializeError, from_bytes, to_bytes


@functools.cache
def _model() -> models.LinearModel:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "y": [0, 0, 0, 1, 1, 1]})
    return models.fit_classifier(frame, "y", ["x"])


def test_table_round_trip_keeps_values_and_types():
    frame = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.5, np.nan, -2.0],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "t": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        }
    )
    kind, data = to_bytes(frame)
    assert kind == "table" and data[:4] == b"PAR1"
    back = from_bytes(kind, data)
    assert list(back.columns) == list(frame.columns)
    assert back["i"].tolist() == [1, 2, 3]
    assert back["b"].dtype == bool
    assert back["s"].isna().tolist() == [False, True, False]
    assert pd.api.types.is_datetime64_any_dtype(back["t"])
    assert np.isnan(back["f"][1])


def test_table_index_is_not_stored():
    frame = pd.DataFrame({"x": [1, 2]}, index=[10, 20])
    back = from_bytes(*to_bytes(frame))
    assert back.index.tolist() == [0, 1]


def test_model_round_trip():
    model = _model()
    kind, data = to_bytes(model)
    assert kind == "model"
    assert data.startswith(b"{")
    assert from_bytes(kind, data) == model


@pytest.mark.parametrize(
    "value",
    [None, True, 3, 2.5, "text", [1, "a", None], {"effect": -6.2, "n": 785, "nested": {"k": [1, 2]}}],
)
def test_json_round_trip(value):
    kind, data = to_bytes(value)
    assert kind == "json"
    assert from_bytes(kind, data) == value


def test_json_plain_forms():
    assert from_bytes(*to_bytes((1, 2))) == [1, 2]
    assert from_bytes(*to_bytes({"a": np.float64(1.5), "b": np.int64(2), "c": np.bool_(True)})) == {
        "a": 1.5,
        "b": 2,
        "c": True,
    }
    assert from_bytes(*to_bytes(float("nan"))) is None
    assert serialize.kind_of({"a": 1}) == "json"


@pytest.mark.parametrize("value", [object(), {1: "int key"}, {1, 2}, b"bytes", lambda: 0, np.arange(3)])
def test_unsupported_values_are_refused(value):
    with pytest.raises(SerializeError):
        to_bytes(value)


@pytest.mark.parametrize("kind", ["pickle", "python", "", "TABLE", "joblib"])
def test_unknown_kinds_are_refused(kind):
    with pytest.raises(SerializeError):
        from_bytes(kind, pickle.dumps({"a": 1}))


class _Boom:
    def __reduce__(self):
        return (_explode, ())


def _explode():  # pragma: no cover - running it means a pickle was loaded
    raise AssertionError("a pickle was loaded")


@pytest.mark.parametrize("kind", serialize.KINDS)
def test_pickle_bytes_are_refused_under_every_kind(kind):
    with pytest.raises(SerializeError):
        from_bytes(kind, pickle.dumps(_Boom()))


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("table", b"PAR1 not really"),
        ("table", b""),
        ("model", b'{"format": "x"}'),
        ("model", b"[1, 2]"),
        ("json", b"\xff\xfe"),
        ("json", b"NaN"),
        ("json", b"{"),
        ("json", "not bytes"),
    ],
)
def test_malformed_bytes_are_refused(kind, data):
    with pytest.raises(SerializeError):
        from_bytes(kind, data)


def test_no_stdlib_module_can_unpickle():
    banned_modules = {"pickle", "cPickle", "dill", "joblib", "cloudpickle", "marshal", "shelve"}
    banned_calls = {"read_pickle", "to_pickle", "eval", "exec", "loads_pickle"}
    for path in sorted(stdlib.HERE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & banned_modules, path
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in banned_modules, path
            if isinstance(node, ast.Attribute):
                assert node.attr not in banned_calls, (path, node.attr)
            if isinstance(node, ast.Name):
                assert node.id not in banned_calls, (path, node.id)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(json_values)
def test_json_round_trip_property(value):
    assert from_bytes(*to_bytes(value)) == value


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(serialize.KINDS), st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_other_errors(kind, data):
    try:
        from_bytes(kind, data)
    except SerializeError:
        pass


def test_json_keeps_key_order():
    value = {"zeta": 1, "alpha": 2, "mid": {"b": 1, "a": 2}}
    back = from_bytes(*to_bytes(value))
    assert list(back) == ["zeta", "alpha", "mid"] and list(back["mid"]) == ["b", "a"]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["label", "features", "classes", "coef", "intercept", "mean", "scale"]), json_values)
def test_model_with_any_field_replaced_is_valid_or_refused(field, replacement):
    import json

    d = _model().to_dict()
    d[field] = replacement
    try:
        back = from_bytes("model", json.dumps(d).encode())
    except SerializeError:
        return
    assert isinstance(back, models.LinearModel)
