"""Each example's functions, called directly on its committed data, give the intended outcome."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from _example_support import EXAMPLES_DIR, dsc_files, load_module, read

from datastation.dsl.parser import parse_file
from datastation.stdlib import causal, models, queries, tables
from datastation.stdlib.serialize import from_bytes, to_bytes


@pytest.mark.parametrize("path", dsc_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_declared_schemas_match_the_data(path):
    for data in parse_file(path).program.data:
        frame = read(path.parent.name, data.path.value.removeprefix("data/"))
        if data.schema is not None:
            declared = {c.name.name: c.type.name for c in data.schema}
            assert tables.schema(frame) == declared, data.qualified
        if data.mock is not None:
            mock = read(path.parent.name, data.mock.value.removeprefix("data/"))
            assert tables.schema(mock) == tables.schema(frame), f"mock of {data.qualified}"


# ---------------------------------------------------------------- fraud


@pytest.fixture(scope="module")
def fraud():
    functions = load_module("fraud", "functions")
    data = {name: read("fraud", f"{name}.csv") for name in ("bank1_train", "bank1_test", "bank2_train", "bank2_test")}
    joint = functions.fraud_model([data["bank1_train"], data["bank2_train"]], "is_fraud")
    return functions, data, joint


def test_fraud_preconditions_hold(fraud):
    _, data, _ = fraud
    assert tables.rows(data["bank1_train"]) >= 2000 and tables.rows(data["bank2_train"]) >= 2000


@pytest.mark.parametrize("bank", ["bank1", "bank2"])
def test_fraud_joint_model_beats_each_banks_own(fraud, bank):
    functions, data, joint = fraud
    own = functions.fraud_model([data[f"{bank}_train"]], "is_fraud")
    joint_accuracy = models.accuracy(joint, data[f"{bank}_test"], "is_fraud")
    own_accuracy = models.accuracy(own, data[f"{bank}_test"], "is_fraud")
    assert joint_accuracy >= own_accuracy + 0.01  # a clear margin, not a coin flip


def test_fraud_unreachable_threshold_is_unreachable(fraud):
    _, data, joint = fraud
    text = (EXAMPLES_DIR / "fraud" / "fraud_unreachable.dsc").read_text()
    threshold = float(re.search(r">=\s*(0\.9\d+)", text).group(1))
    assert min(models.accuracy(joint, data[f"{b}_test"], "is_fraud") for b in ("bank1", "bank2")) < threshold


def test_fraud_model_never_uses_the_transaction_id(fraud):
    assert "id" not in fraud[2].features


# ---------------------------------------------------------------- ads

ADS_QUERY = re.compile(r'query\s*=\s*"([^"]+)"')


@pytest.fixture(scope="module")
def ads():
    functions = load_module("ads", "functions")
    query = ADS_QUERY.search((EXAMPLES_DIR / "ads" / "ads.dsc").read_text()).group(1)
    audience = queries.sql(query, read("ads", "platform1_users.csv"), read("ads", "platform2_users.csv"))
    audience = from_bytes(*to_bytes(audience))  # kept in the escrow: stored and read back
    conversions = read("ads", "advertiser_conversions.csv")
    buyers = from_bytes(*to_bytes(functions.buyer_model(audience, conversions, "converted")))
    return functions, audience, conversions, buyers


def test_ads_audience_is_the_overlap(ads):
    _, audience, _, _ = ads
    p1, p2 = read("ads", "platform1_users.csv"), read("ads", "platform2_users.csv")
    assert len(audience) == len(set(p1.user_key) & set(p2.user_key)) >= 1000
    assert audience["user_key"].is_monotonic_increasing


def test_ads_model_learns_something(ads):
    _, audience, conversions, buyers = ads
    labelled = audience.merge(conversions, on="user_key")
    base_rate = max(labelled.converted.mean(), 1 - labelled.converted.mean())
    assert models.accuracy(buyers, labelled, "converted") > base_rate
    assert all(c > 0 for c in buyers.coef[0])  # more activity, more conversions


def test_ads_segment_report_has_no_small_group(ads):
    functions, audience, _, buyers = ads
    report = functions.segment_scores(buyers, audience, ["region"], 50)
    assert tables.minimum(report, "n") >= 50
    assert "islands" not in set(report.region)  # the rare region is suppressed
    assert set(report.columns) == {"region", "n", "mean_score"}
    assert report["mean_score"].between(0, 1).all()


def test_ads_audience_minutes_has_no_small_group(ads):
    _, audience, _, _ = ads
    assert tables.min_group_size(audience, ["region"]) >= 10  # the contract's require
    answer = tables.aggregate(audience, ["region", "age_band"], "mean", "minutes", 30)
    assert tables.minimum(answer, "n") >= 30
    assert len(answer) < audience.groupby(["region", "age_band"]).ngroups  # something was suppressed


# ---------------------------------------------------------------- health


@pytest.fixture(scope="module")
def health():
    return load_module("health", "generate"), read("health", "cohort.csv"), read("health", "registry.csv")


CONFOUNDERS = ["age", "sex", "diabetes", "bmi"]


def test_health_effect_estimate_recovers_the_true_effect(health):
    generate, cohort, registry = health
    assert tables.rows(cohort) >= 200
    answer = causal.cohort_effect(cohort, registry, "patient_id", "treated", "systolic_bp", CONFOUNDERS)
    assert answer["ci_low"] < generate.TRUE_EFFECT < answer["ci_high"]
    assert answer["naive_difference"] > 0 > answer["effect"]  # confounding flips the naive sign
    assert answer["n_matched"] == generate.COHORT_ROWS - generate.UNREGISTERED
    assert answer["n_cohort"] == generate.COHORT_ROWS


def test_health_balance_shows_the_confounding(health):
    _, cohort, registry = health
    functions = load_module("health", "functions")
    balance = functions.covariate_balance(cohort, registry, "patient_id", "treated", CONFOUNDERS).set_index("confounder")
    assert list(balance.index) == ["age", "sex=M", "diabetes", "bmi"]
    assert balance.loc["age", "std_difference"] > 0.5
    assert balance.loc["diabetes", "std_difference"] > 0.5
    assert abs(balance.loc["bmi", "std_difference"]) < 0.2


# ---------------------------------------------------------------- schema


def test_schema_sharing_reveals_types_not_values():
    samples, assays = read("schema", "samples.csv"), read("schema", "assays.csv")
    assert tables.schema(samples) == {
        "sample_id": "int",
        "patient_ref": "string",
        "collected_at": "datetime",
        "specimen": "string",
        "volume_ml": "float",
        "frozen": "bool",
    }
    profile = load_module("schema", "functions").profile(assays)
    assert list(profile.columns) == ["column", "type", "missing", "distinct"]
    assert list(profile["column"]) == list(assays.columns)
    assert profile.set_index("column").loc["value", "missing"] > 0
    values = set(map(str, assays["analyte"]))
    assert not values & set(map(str, profile.to_numpy().ravel()))  # no data value leaks into the profile


@pytest.mark.parametrize("path", dsc_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_declared_schemas_match_the_escrows_inference(path):
    store_schema = pytest.importorskip("datastation.runtime.data_schema")
    for data in parse_file(path).program.data:
        if data.schema is not None:
            contents = (path.parent / data.path.value).read_bytes()
            declared = {c.name.name: c.type.name for c in data.schema}
            assert store_schema.infer_schema(contents, data.format.name) == declared, data.qualified


def test_health_balance_refuses_tiny_groups(health):
    _, cohort, registry = health
    functions = load_module("health", "functions")
    tiny = pd.concat([cohort[cohort.treated].head(3), cohort[~cohort.treated].head(50)])
    with pytest.raises(ValueError):
        functions.covariate_balance(tiny, registry, "patient_id", "treated", CONFOUNDERS)
