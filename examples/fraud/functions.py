"""User functions of the fraud example. They read data only through their parameters."""

from __future__ import annotations

import pandas as pd

from datastation.stdlib.models import fit_classifier
from datastation.stdlib.types import Column, Model, Table


def fraud_model(train: list[Table], label: Column) -> Model:
    """Train a fraud classifier on the transactions of every given bank together.

    A logistic regression over the transaction features (never the transaction id); the
    result is a JSON-serialisable linear model, safe to release to the banks.
    """
    # Everything the model depends on is inside this function: its source is part of the
    # contract's identity, so changing the features makes it a new contract.
    features = ["amount", "hour", "card_present", "foreign", "velocity", "merchant_risk"]
    pooled = pd.concat(list(train), ignore_index=True)
    return fit_classifier(pooled, label, features)

