"""SIGKILL the escrow during propose, approve, policy apply and execute; restart; check.

Uses the STORE helper's harness (tests/runtime/crash/crash_harness.py) with the lifecycle
steps of crash_steps.py. Sampled by default; DSC_CRASH_EXHAUSTIVE=1 kills at every point.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crash"))

import crash_harness as h  # noqa: E402

SCENARIO = h.load_scenario(Path(__file__).with_name("crash_lifecycle.yaml"))
ALL_STEPS = range(len(SCENARIO.steps))


@pytest.fixture
def root():
    with h.scratch_dir() as d:
        yield d


@pytest.fixture(scope="module")
def points():
    with h.scratch_dir() as d:
        return h.enumerate_points(SCENARIO, d)


def test_clean_run_is_consistent(root):
    assert h.run_child(SCENARIO, root) == 0
    assert h.check_consistency(SCENARIO, root, ALL_STEPS) == []
    assert h.run_child(SCENARIO, root) == 0  # idempotent: a second run changes nothing
    assert h.check_consistency(SCENARIO, root, ALL_STEPS) == []


def test_lifecycle_crash_points_are_reached(points):
    labels = {label for label, _ in points}
    for needed in ("execute.claimed", "execute.started", "execute.before_release", "execute.files_written",
                   "execute.commit", "execute.committed", "execute.published", "store.swap_contract_status",
                   "store.put_contract", "store.add_approval", "store.put_policy", "store.add_release",
                   "store.put_kept"):
        assert needed in labels, needed


def _crash_points(points):
    """The first occurrence of every lifecycle label, plus a few more drawn with a fixed seed."""
    labels = ("execute.", "store.put_contract", "store.add_approval", "store.put_policy", "store.add_release",
              "store.put_kept", "store.set_contract_status", "store.finish_execution", "store.remove_approvals",
              "store.swap_contract_status", "storage.")
    ours = [p for p in points if p[0].startswith(labels)]
    return h.select_points(ours, sample=4, seed=1)


def test_crash_during_lifecycle(points, root):
    failures = []
    for i, point in enumerate(_crash_points(points)):
        report = h.crash_once(SCENARIO, root / f"p{i}", point)
        if not report.ok:
            failures.append(f"{point}: after crash {report.problems_after_crash}; "
                            f"after restart {report.problems_after_restart}")
    assert not failures, "\n".join(failures)


def test_checks_can_fail(root):
    assert h.run_child(SCENARIO, root) == 0
    with h.open_escrow(h.make_config(root)) as ctx:
        ctx.store._db.execute("DELETE FROM releases WHERE recipient = 'bank1'")
    text = "\n".join(h.check_consistency(SCENARIO, root, ALL_STEPS))
    assert "[releases_once]" in text and "[statuses_consistent]" in text and "[outbox_matches_releases]" in text
