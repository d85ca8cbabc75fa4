"""Play each example's contracts in order, in-process and without an escrow, to check the intended outcome.

A light stand-in for `dsc run`: data loaded from the example's files, functions called by
name, results passed through `serialize` (as the escrow stores them), `require`/`ensure`
evaluated by the escrow's own condition evaluator.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from _example_support import EXAMPLES_DIR, load_module

from datastation import stdlib
from datastation.stdlib import tables
from datastation.stdlib.serialize import from_bytes, to_bytes

conditions = pytest.importorskip("datastation.contracts.conditions")
check = pytest.importorskip("datastation.dsl.check")


def play(path: Path) -> dict[str, dict]:
    """Run every contract; per contract: `require`/`ensure` outcomes (True, False or an error) and the result."""
    checked = check.check_file(path)
    assert not checked.errors
    program = checked.program
    files = {d.qualified: path.parent / d.path.value for d in program.data}
    user = load_module(path.parent.name, "functions")
    kept: dict[str, object] = {}

    def load(key: str):
        if key in kept:
            return kept[key]
        return pd.read_csv(files[key])

    def call(name: str, args: list, kwargs: dict):
        func = getattr(user, name, None) if not name.startswith("_") else None
        return (func or stdlib.resolve(name))(*args, **kwargs)

    kept_names = [c.keep_as.name for c in program.contracts if c.keep_as]
    evaluator = conditions.Evaluator([a.name.name for a in program.agents], load, call, kept=kept_names)
    outcomes = {}
    for contract in program.contracts:
        requires = [evaluator.check(e, "require", i) for i, e in enumerate(contract.requires)]
        outcome = {"require": [r.held if r.error is None else r.error for r in requires], "ensure": []}
        outcomes[contract.name.name] = outcome
        if not all(r.held for r in requires):
            continue
        c = contract.call
        args = [evaluator.eval(a, {}, {}) for a in c.args]
        kwargs = {k.name.name: evaluator.eval(k.value, {}, {}) for k in c.kwargs}
        result = from_bytes(*to_bytes(call(c.func.name, args, kwargs)))
        ensures = [evaluator.check(e, "ensure", i, result=result, with_result=True) for i, e in enumerate(contract.ensures)]
        outcome["ensure"] = [r.held if r.error is None else r.error for r in ensures]
        outcome["result"] = result
        if contract.keep_as is not None:
            kept[contract.keep_as.name] = result
    return outcomes


def _all_held(outcome: dict) -> bool:
    return all(v is True for v in outcome["require"] + outcome["ensure"])


def test_play_schema():
    out = play(EXAMPLES_DIR / "schema" / "schema.dsc")
    assert all(_all_held(o) for o in out.values())
    assert out["samples_schema"]["result"]["collected_at"] == "datetime"
    assert set(out["assays_schema"]["result"]) == {"assay_id", "sample_id", "analyte", "value", "unit", "flagged"}
    assert list(out["assays_profile"]["result"]["column"]) == list(out["assays_schema"]["result"])


def test_play_fraud_releases_the_joint_model():
    out = play(EXAMPLES_DIR / "fraud" / "fraud.dsc")
    joint = out["joint_model"]
    assert joint["require"] == [True] and joint["ensure"] == [True]
    assert type(joint["result"]).__name__ == "LinearModel"


def test_play_fraud_unreachable_fails_only_the_threshold():
    out = play(EXAMPLES_DIR / "fraud" / "fraud_unreachable.dsc")
    assert out["joint_model"]["require"] == [True]
    assert out["joint_model"]["ensure"] == [True, False]  # beats local models, misses 99.9%


def test_play_ads_keeps_and_reuses():
    out = play(EXAMPLES_DIR / "ads" / "ads.dsc")
    assert all(_all_held(o) for o in out.values()), {k: (v["require"], v["ensure"]) for k, v in out.items()}
    assert isinstance(out["match_audience"]["result"], pd.DataFrame)
    assert type(out["train_buyers"]["result"]).__name__ == "LinearModel"
    for name, minimum in (("segment_report", 50), ("audience_minutes", 30)):
        answer = out[name]["result"]
        assert len(answer) > 0 and tables.minimum(answer, "n") >= minimum


def test_play_health_gives_an_effect_estimate():
    generate = load_module("health", "generate")
    out = play(EXAMPLES_DIR / "health" / "health.dsc")
    assert all(_all_held(o) for o in out.values())
    effect = out["drug_effect"]["result"]
    assert effect["ci_low"] < generate.TRUE_EFFECT < effect["ci_high"]
    assert set(out["cohort_balance"]["result"]["confounder"]) == {"age", "sex=M", "diabetes", "bmi"}
