from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datastation.stdlib import causal
from datastation.stdlib.errors import BuiltinError

EFFECT = -3.0


@pytest.fixture(scope="module")
def study() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2000
    age = rng.uniform(20, 80, n)
    group = rng.choice(["a", "b", "c"], n)
    treated = rng.random(n) < 1 / (1 + np.exp(-(age - 50) / 8))  # confounded by age
    outcome = 0.5 * age + EFFECT * treated + (group == "c") * 2.0 + rng.normal(0, 2, n)
    return pd.DataFrame({"pid": np.arange(n), "age": age, "group": group, "treated": treated, "y": outcome})


def test_regression_adjustment_recovers_the_effect(study):
    answer = causal.causal_effect(study, "treated", "y", ["age", "group"])
    assert answer["effect"] == pytest.approx(EFFECT, abs=0.4)
    assert answer["ci_low"] < EFFECT < answer["ci_high"]
    assert answer["n"] == 2000 and answer["n_treated"] + answer["n_control"] == 2000
    assert answer["naive_difference"] > 0  # confounding flips the naive sign
    assert answer["naive_difference"] == pytest.approx(causal.difference_in_means(study, "treated", "y"))


def test_no_confounders_is_the_difference_in_means(study):
    answer = causal.causal_effect(study, "treated", "y", [])
    assert answer["effect"] == pytest.approx(answer["naive_difference"])


def test_cohort_effect_joins_on_the_key(study):
    cohort = study[["pid", "treated"]].iloc[:1500]
    cohort = pd.concat([cohort, pd.DataFrame({"pid": [10**6, 10**6 + 1], "treated": [True, False]})])
    registry = study.drop(columns=["treated"])
    answer = causal.cohort_effect(cohort, registry, "pid", "treated", "y", ["age", "group"])
    assert answer["n_cohort"] == 1502
    assert answer["n_matched"] == 1500
    assert answer["effect"] == pytest.approx(EFFECT, abs=0.5)


def test_missing_rows_are_skipped(study):
    holes = study.copy()
    holes.loc[:99, "age"] = np.nan
    assert causal.causal_effect(holes, "treated", "y", ["age"])["n"] == 1900


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (causal.causal_effect, ("treated", "y", ["nope"])),
        (causal.causal_effect, ("group", "y", [])),  # treatment not binary
        (causal.causal_effect, ("age", "y", [])),  # treatment not 0/1
        (causal.causal_effect, ("treated", "y", ["treated"])),
        (causal.causal_effect, ("treated", "group", [])),  # outcome not numeric
        (causal.difference_in_means, ("treated", "group")),
    ],
)
def test_bad_arguments(study, call, args):
    with pytest.raises(BuiltinError):
        call(study, *args)


def test_one_arm_only(study):
    with pytest.raises(BuiltinError):
        causal.causal_effect(study[study.treated], "treated", "y", ["age"])


def test_cohort_with_duplicate_ids(study):
    cohort = pd.concat([study[["pid", "treated"]].iloc[:5]] * 2)
    with pytest.raises(BuiltinError):
        causal.cohort_effect(cohort, study, "pid", "treated", "y", [])


def test_each_arm_needs_a_minimum_of_rows(study):
    treated = study[study.treated].iloc[: causal.MIN_ARM - 1]
    control = study[~study.treated].iloc[:100]
    small = pd.concat([treated, control])
    with pytest.raises(BuiltinError):
        causal.causal_effect(small, "treated", "y", ["age"])
    with pytest.raises(BuiltinError):
        causal.difference_in_means(small, "treated", "y")
    enough = pd.concat([study[study.treated].iloc[: causal.MIN_ARM], control])
    assert causal.causal_effect(enough, "treated", "y", ["age"])["n_treated"] == causal.MIN_ARM
