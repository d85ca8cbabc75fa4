"""User functions of the ads example. They read data only through their parameters."""

from __future__ import annotations

from datastation.stdlib.models import fit_classifier, predict
from datastation.stdlib.tables import aggregate
from datastation.stdlib.types import Column, Model, Table


def buyer_model(audience: Table, conversions: Table, label: Column["conversions"]) -> Model:
    """Train a model of who converts, from the matched audience's activity on both platforms.

    Joins the audience with the advertiser's conversions on `user_key`; the model learns
    from activity features only (never the key, age band or region).
    """
    features = ["sessions", "clicked_ads", "minutes", "follows_brand"]  # inside: part of the identity
    labelled = audience.merge(conversions[["user_key", label]], on="user_key", how="inner")
    return fit_classifier(labelled, label, features)


def segment_scores(model: Model, audience: Table, by: list[Column], min_group: int) -> Table:
    """The mean predicted conversion probability of each audience segment, with small segments suppressed.

    One row per group of the `by` columns holding at least `min_group` people: the group
    keys, `n` and `mean_score`.
    """
    scored = audience[list(by)].copy()
    scored["score"] = predict(model, audience)["probability"].to_numpy()
    return aggregate(scored, by, "mean", "score", min_group)
