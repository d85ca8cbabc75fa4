"""`dsc run FILE --approve-all` plays each example end to end in a temporary escrow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _example_support import EXAMPLES_DIR, load_module

from datastation.stdlib.serialize import from_bytes

pytestmark = pytest.mark.slow

RELEASED, CONDITION_FAILED = 0, 1


def dsc_run(example: Path, escrow: Path) -> tuple[int, dict[str, list[Path]]]:
    """Exit code and the released files per recipient."""
    dsc = shutil.which("dsc")
    command = [dsc] if dsc else [sys.executable, "-m", "datastation.runtime.cli"]
    proc = subprocess.run(
        [*command, "run", str(example), "--approve-all", "--escrow-dir", str(escrow)],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    outbox = escrow / "outbox"
    released = {d.name: sorted(p for p in d.iterdir() if p.is_file()) for d in outbox.iterdir()} if outbox.is_dir() else {}
    return proc.returncode, {k: v for k, v in released.items() if v}


def _load(path: Path):
    kind = "table" if path.suffix == ".parquet" else "model" if path.name.endswith(".model.json") else "json"
    return from_bytes(kind, path.read_bytes())


def test_run_fraud_releases_the_joint_model_to_both_banks(tmp_path):
    code, released = dsc_run(EXAMPLES_DIR / "fraud" / "fraud.dsc", tmp_path)
    assert code == RELEASED
    assert sorted(released) == ["bank1", "bank2"]
    models = [_load(p) for files in released.values() for p in files]
    assert len(models) == 2 and models[0] == models[1]
    assert type(models[0]).__name__ == "LinearModel"


def test_run_fraud_unreachable_releases_nothing(tmp_path):
    code, released = dsc_run(EXAMPLES_DIR / "fraud" / "fraud_unreachable.dsc", tmp_path)
    assert code == CONDITION_FAILED
    assert released == {}


def test_run_schema_releases_schemas_and_profile(tmp_path):
    code, released = dsc_run(EXAMPLES_DIR / "schema" / "schema.dsc", tmp_path)
    assert code == RELEASED
    assert list(released) == ["partner"] and len(released["partner"]) == 3
    schemas = [json.loads(p.read_text()) for p in released["partner"] if p.suffix == ".json"]
    assert {"sample_id", "collected_at"} <= set(schemas[0]) | set(schemas[1])


def test_run_ads_releases_only_aggregates(tmp_path):
    code, released = dsc_run(EXAMPLES_DIR / "ads" / "ads.dsc", tmp_path)
    assert code == RELEASED
    assert list(released) == ["advertiser"]
    answers = [_load(p) for p in released["advertiser"]]
    assert len(answers) == 2  # the kept audience and model are released to nobody
    for answer in answers:
        assert "user_key" not in answer.columns
        assert answer["n"].min() >= 30


def test_run_health_releases_the_effect_estimate(tmp_path):
    code, released = dsc_run(EXAMPLES_DIR / "health" / "health.dsc", tmp_path)
    assert code == RELEASED
    assert list(released) == ["researcher"]
    estimates = [_load(p) for p in released["researcher"] if p.suffix == ".json"]
    true_effect = load_module("health", "generate").TRUE_EFFECT
    assert len(estimates) == 1 and estimates[0]["ci_low"] < true_effect < estimates[0]["ci_high"]
