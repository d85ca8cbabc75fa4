from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest

from datastation.stdlib import models
from datastation.stdlib.errors import BuiltinError
from datastation.stdlib.models import LinearModel


def _frame(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "account_id": rng.integers(0, 10**6, n),
            "x": x,
            "z": z,
            "flag": rng.random(n) < 0.5,
            "city": rng.choice(["a", "b"], n),
            "y": (x + 0.5 * z + rng.normal(scale=0.2, size=n)) > 0,
        }
    )


def test_train_classifier_features_and_accuracy():
    train = [_frame(1), _frame(2)]
    model = models.train_classifier(train, "y")
    assert model.features == ("x", "z", "flag")  # no label, no identifiers, no text
    assert model.classes == (False, True)
    assert models.accuracy(model, _frame(3), "y") > 0.9


def test_train_classifier_is_deterministic():
    a = models.train_classifier([_frame(1)], "y")
    b = models.train_classifier([_frame(1)], "y")
    assert a == b and a.to_json() == b.to_json()


def test_more_data_from_two_tables_is_used():
    one = models.train_classifier([_frame(1, 40)], "y")
    both = models.train_classifier([_frame(1, 40), _frame(2, 400)], "y")
    assert one != both


def test_features_common_to_every_table_only():
    second = _frame(2).drop(columns=["z"])
    model = models.train_classifier([_frame(1), second], "y")
    assert model.features == ("x", "flag")


def test_fit_classifier_multiclass_and_predict():
    rng = np.random.default_rng(0)
    x = rng.normal(size=600)
    frame = pd.DataFrame({"x": x, "k": np.where(x < -0.5, "low", np.where(x > 0.5, "high", "mid"))})
    model = models.fit_classifier(frame, "k", ["x"])
    assert set(model.classes) == {"low", "mid", "high"}
    assert len(model.coef) == 3
    assert models.accuracy(model, frame, "k") > 0.9
    out = models.predict(model, frame.head(5))
    assert list(out.columns) == ["prediction"]
    assert model.predict_proba(frame.head(5)).sum(axis=1) == pytest.approx(np.ones(5))


def test_predict_binary_has_probability():
    model = models.train_classifier([_frame(1)], "y")
    out = models.predict(model, _frame(4, 10))
    assert list(out.columns) == ["prediction", "probability"]
    assert ((out["probability"] > 0.5) == out["prediction"].astype(bool)).all()


def test_missing_values_and_labels():
    frame = _frame(1)
    frame.loc[:9, "x"] = np.nan
    frame["y"] = frame["y"].astype(object)
    frame.loc[10:19, "y"] = None
    model = models.fit_classifier(frame, "y", ["x", "z"])
    assert 0.8 < models.accuracy(model, frame, "y") <= 1.0


def test_accuracy_compares_bool_with_int_labels():
    model = models.train_classifier([_frame(1)], "y")
    test = _frame(3)
    as_int = test.assign(y=test["y"].astype(int))
    assert models.accuracy(model, as_int, "y") == models.accuracy(model, test, "y")


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (models.train_classifier, ([], "y")),
        (models.train_classifier, ([_frame(1)], "nope")),
        (models.train_classifier, ([_frame(1).assign(y=True)], "y")),  # one class
        (models.fit_classifier, (_frame(1), "y", ["y"])),
        (models.fit_classifier, (_frame(1), "y", ["city"])),  # text feature
        (models.fit_classifier, (_frame(1), "y", ["x", "x"])),
        (models.accuracy, ("not a model", _frame(1), "y")),
    ],
)
def test_bad_arguments(call, args):
    with pytest.raises(BuiltinError):
        call(*args)


def test_accuracy_needs_the_model_features():
    model = models.train_classifier([_frame(1)], "y")
    with pytest.raises(BuiltinError):
        models.accuracy(model, _frame(2).drop(columns=["z"]), "y")


# ---------------------------------------------------------------- JSON form


def test_json_round_trip_is_exact():
    model = models.train_classifier([_frame(1)], "y")
    again = LinearModel.from_json(model.to_json())
    assert again == model
    test = _frame(5)
    assert (again.predict(test) == model.predict(test)).all()
    assert json.loads(model.to_json())["format"] == models.FORMAT


@functools.cache
def _good_json() -> str:
    return models.train_classifier([_frame(1)], "y").to_json()


def _good() -> dict:
    return json.loads(_good_json())


BAD = [
    ("extra key", lambda d: {**d, "pickle": "x"}),
    ("missing key", lambda d: {k: v for k, v in d.items() if k != "scale"}),
    ("format", lambda d: {**d, "format": "sklearn/pickle"}),
    ("one class", lambda d: {**d, "classes": [True]}),
    ("duplicate classes", lambda d: {**d, "classes": [1, 1]}),
    ("object class", lambda d: {**d, "classes": [{"a": 1}, 2]}),
    ("coef rows", lambda d: {**d, "coef": d["coef"] * 2}),
    ("coef width", lambda d: {**d, "coef": [d["coef"][0][:-1]]}),
    ("coef text", lambda d: {**d, "coef": [["1"] * len(d["features"])]}),
    ("coef bool", lambda d: {**d, "coef": [[True] * len(d["features"])]}),
    ("huge int", lambda d: {**d, "intercept": [10**400]}),
    ("zero scale", lambda d: {**d, "scale": [0.0] * len(d["features"])}),
    ("feature type", lambda d: {**d, "features": [1] * len(d["features"])}),
    ("duplicate features", lambda d: {**d, "features": ["x"] * len(d["features"])}),
    ("label type", lambda d: {**d, "label": 3}),
    ("not a dict", lambda d: [d]),
]


@pytest.mark.parametrize(("why", "mutate"), BAD, ids=[b[0] for b in BAD])
def test_from_dict_rejects_malformed(why, mutate):
    with pytest.raises(BuiltinError):
        LinearModel.from_dict(mutate(_good()))


def test_from_json_rejects_non_json_and_nan():
    with pytest.raises(BuiltinError):
        LinearModel.from_json(b"\x80\x04K\x01.")  # a pickle
    text = json.dumps({**_good(), "intercept": [float("nan")]})
    with pytest.raises(BuiltinError):
        LinearModel.from_json(text)
