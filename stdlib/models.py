"""Classifiers: training, prediction and evaluation.

A trained model is a `LinearModel`: plain numbers (features, classes, coefficients, the
standardisation learnt on the training data) that serialise to JSON. Nothing executable
ever crosses a trust boundary, so a recipient can load a released model safely.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import _frames
from .column import Column
from .errors import BuiltinError

FORMAT = "datastation.linear_model/1"
_FIELDS = ("format", "label", "features", "classes", "coef", "intercept", "mean", "scale")
_IDENTIFIER_SUFFIX = "_id"


Table = pd.DataFrame  # the same aliases as `types` (which imports this module)


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A linear classifier over standardised numeric features.

    `coef` has one row for two classes (the score of `classes[1]`) and one row per class
    otherwise (scores compared with softmax). Missing feature values count as the mean.
    """

    label: str
    features: tuple[str, ...]
    classes: tuple[Any, ...]
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    # -- prediction
    def _matrix(self, data: pd.DataFrame) -> np.ndarray:
        frame = _frames.table(data)
        _frames.has_columns(frame, self.features)
        columns = [_frames.numeric(frame, f) for f in self.features]
        x = np.column_stack([c.to_numpy() for c in columns]) if columns else np.zeros((len(frame), 0))
        x = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.nan_to_num(x, nan=0.0)

    def decision(self, data: pd.DataFrame) -> np.ndarray:
        """Linear scores: shape (rows,) for two classes, (rows, classes) otherwise."""
        scores = self._matrix(data) @ np.asarray(self.coef).T + np.asarray(self.intercept)
        return scores[:, 0] if len(self.classes) == 2 else scores

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (rows, classes), columns in the order of `classes`."""
        scores = self.decision(data)
        if len(self.classes) == 2:
            p = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - p, p])
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, data: pd.DataFrame) -> np.ndarray:
        """The most likely class of each row (values taken from `classes`)."""
        if len(self.classes) == 2:
            index = (self.decision(data) > 0).astype(int)
        else:
            index = self.predict_proba(data).argmax(axis=1)
        return np.asarray(self.classes, dtype=object)[index]

    # -- serialisation (JSON only)
    def to_dict(self) -> dict:
        """The model as JSON-able data."""
        return {
            "format": FORMAT,
            "label": self.label,
            "features": list(self.features),
            "classes": list(self.classes),
            "coef": [list(row) for row in self.coef],
            "intercept": list(self.intercept),
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, exact float round trip)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, d: object) -> "LinearModel":
        """Validate untrusted JSON data strictly and build the model; BuiltinError if malformed."""
        if not isinstance(d, dict) or set(d) != set(_FIELDS):
            raise BuiltinError(f"not a model: expected exactly the keys {', '.join(_FIELDS)}")
        if d["format"] != FORMAT:
            raise BuiltinError(f"unsupported model format (expected {FORMAT!r})")
        label = d["label"]
        features = _strings(d["features"], "features")
        classes = d["classes"]
        if not isinstance(label, str):
            raise BuiltinError("model label must be a string")
        if (
            not isinstance(classes, list)
            or len(classes) < 2
            or not all(isinstance(c, (str, int, float, bool)) for c in classes)
            or len({json.dumps(c) for c in classes}) != len(classes)
        ):
            raise BuiltinError("model classes must be two or more distinct JSON scalars")
        rows = 1 if len(classes) == 2 else len(classes)
        coef = d["coef"]
        if not isinstance(coef, list) or len(coef) != rows:
            raise BuiltinError(f"model coef must have {rows} row(s)")
        coef_rows = tuple(_floats(row, "coef", len(features)) for row in coef)
        intercept = _floats(d["intercept"], "intercept", rows)
        mean = _floats(d["mean"], "mean", len(features))
        scale = _floats(d["scale"], "scale", len(features))
        if any(s <= 0 for s in scale):
            raise BuiltinError("model scale must be positive")
        return cls(
            label=label,
            features=features,
            classes=tuple(classes),
            coef=coef_rows,
            intercept=intercept,
            mean=mean,
            scale=scale,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "LinearModel":
        """Parse and validate a model from JSON text."""
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BuiltinError("not a model: invalid JSON") from None
        return cls.from_dict(data)


Model = LinearModel


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in a model")


def _strings(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuiltinError(f"model {what} must be a list of strings")
    if len(set(value)) != len(value):
        raise BuiltinError(f"model {what} must be distinct")
    return tuple(value)


def _finite(v: object) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:  # an integer too large for a float
        return False


def _floats(value: object, what: str, length: int) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != length or not all(_finite(v) for v in value):
        raise BuiltinError(f"model {what} must be a list of {length} finite numbers")
    return tuple(float(v) for v in value)


def _model(value: object) -> LinearModel:
    if isinstance(value, LinearModel):
        return value
    raise BuiltinError("`model` must be a model")


def _label(frame: pd.DataFrame, label: object, what: str = "data") -> pd.Series:
    if not isinstance(label, str):
        raise BuiltinError("`label` must be a column name")
    _frames.has_columns(frame, [label], what)
    return frame[label]


# ---------------------------------------------------------------- built-ins


def fit_classifier(data: Table, label: Column, features: list[Column]) -> Model:
    """Train a logistic-regression classifier of `label` on the named feature columns.

    Deterministic (lbfgs, standardised features); rows whose label is missing are skipped,
    missing feature values count as the column mean.
    """
    from sklearn.linear_model import LogisticRegression

    frame = _frames.table(data)
    features = _frames.names(features, "features")
    if label in features:
        raise BuiltinError("the `label` cannot also be a feature")
    if len(set(features)) != len(features):
        raise BuiltinError("`features` lists a column twice")
    y = _label(frame, label)
    keep = y.notna().to_numpy()
    frame, y = frame[keep], y[keep].infer_objects()
    if frame.empty:
        raise BuiltinError("no rows with a label to train on")
    x = np.column_stack([_frames.numeric(frame, f).to_numpy() for f in features]) if features else np.zeros((len(frame), 0))
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(x, axis=0), nan=0.0) if features else np.zeros(0)
        scale = np.nan_to_num(np.nanstd(x, axis=0), nan=1.0) if features else np.zeros(0)
    scale[scale == 0] = 1.0
    x = np.nan_to_num((x - mean) / scale, nan=0.0)
    classes = pd.unique(y)
    if len(classes) < 2:
        raise BuiltinError("the `label` column has a single value; a classifier needs two or more")
    if x.shape[1] == 0:
        x = np.zeros((len(frame), 1))  # sklearn needs a column; its coefficient is dropped below
    try:
        fitted = LogisticRegression(max_iter=1000).fit(x, y.to_numpy())
    except ValueError as exc:  # e.g. a continuous or mixed-type label
        raise BuiltinError(f"cannot train on the `label` column ({type(exc).__name__})") from None
    coef = fitted.coef_[:, : len(features)] if features else np.zeros((fitted.coef_.shape[0], 0))
    return LinearModel(
        label=label,
        features=tuple(features),
        classes=tuple(_frames.scalar(c) for c in fitted.classes_),
        coef=tuple(tuple(float(v) for v in row) for row in coef),
        intercept=tuple(float(v) for v in fitted.intercept_),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
    )


def train_classifier(train: list[Table], label: Column) -> Model:
    """Train a logistic-regression classifier of `label` on the rows of all tables together.

    Features are the numeric and boolean columns every table has, except the label and
    identifiers (a column named `id` or ending in `_id`).
    """
    frames = _frames.tables(train, "train")
    for i, frame in enumerate(frames):
        _label(frame, label, f"train[{i}]")
    common = [c for c in frames[0].columns if all(c in f.columns for f in frames[1:])]
    combined = pd.concat([f[common] for f in frames], ignore_index=True)
    features = [
        c
        for c in common
        if c != label
        and isinstance(c, str)
        and c.lower() != "id"
        and not c.lower().endswith(_IDENTIFIER_SUFFIX)
        and _frames.is_numeric(combined[c])
    ]
    return fit_classifier(combined, label, features)


def predict(model: Model, data: Table) -> Table:
    """Score every row: a table with `prediction` and, for two classes, `probability` of the second class."""
    model = _model(model)
    frame = _frames.table(data)
    out = pd.DataFrame({"prediction": model.predict(frame)})
    if len(model.classes) == 2:
        out["probability"] = model.predict_proba(frame)[:, 1]
    return out


def accuracy(model: Model, data: Table, label: Column) -> float:
    """The fraction of rows of `data` whose `label` the model predicts correctly (rows without a label skipped)."""
    model = _model(model)
    frame = _frames.table(data)
    truth = _label(frame, label)
    keep = truth.notna().to_numpy()
    if not keep.any():
        raise BuiltinError("no rows with a label to evaluate on")
    predicted = model.predict(frame[keep])
    actual = truth[keep].to_numpy(dtype=object)
    return float(np.mean([p == a for p, a in zip(predicted, actual)]))

