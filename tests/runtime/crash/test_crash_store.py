"""SIGKILL the escrow at crash points inside store, storage, key and audit code; restart; check."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crash_harness as h  # noqa: E402

HERE = Path(__file__).resolve().parent
SCENARIO = h.load_scenario(HERE / "store_basics.yaml")
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
    assert h.run_child(SCENARIO, root) == 0  # a second run changes nothing
    assert h.check_consistency(SCENARIO, root, ALL_STEPS) == []


def test_points_cover_every_layer(points):
    labels = {label for label, _ in points}
    for needed in ("tx.begin", "tx.commit", "tx.committed", "audit.append", "store.audit_insert", "store.put_data",
                   "store.add_agent", "store.remove_data", "store.set_state", "storage.written", "storage.replaced",
                   "keys.written", "keys.linked", "migrate.v1", "migrate.v3"):
        assert needed in labels


# Sampled by default (each label's first occurrence + 8 more, fixed seed);
# DSC_CRASH_EXHAUSTIVE=1 kills at every one of the ~100 points.
def test_crash_at_points(points, root):
    chosen = h.select_points(points, sample=8)
    failures = []
    for i, point in enumerate(chosen):
        report = h.crash_once(SCENARIO, root / f"p{i}", point)
        if not report.ok:
            failures.append(f"{point}: after crash {report.problems_after_crash}; "
                            f"after restart {report.problems_after_restart}\n{h.dump(root / f'p{i}')}")
    assert not failures, "\n".join(failures)


def test_subprocess_driver_mode(root, points):
    # The exec'd driver (a real new interpreter) behaves like the forked child.
    label, n = next(p for p in points if p[0] == "store.put_data")
    assert h.run_child(SCENARIO, root, {"DSC_CRASH_AT": f"{label}:{n}"}, mode="exec") == -9
    assert h.check_consistency(SCENARIO, root) == []
    assert h.run_child(SCENARIO, root, mode="exec") == 0
    assert h.check_consistency(SCENARIO, root, ALL_STEPS) == []


def test_lost_step_is_reported(root):
    # A step reported finished whose effect is missing must be flagged ("nothing lost").
    assert h.run_child(SCENARIO, root) == 0
    with h.open_escrow(h.make_config(root)) as ctx:
        ctx.store._db.execute("DELETE FROM app_state WHERE scope = 'app'")
    problems = h.check_consistency(SCENARIO, root, ALL_STEPS)
    assert any("[step 8 state]" in p for p in problems)


def test_checker_catches_inconsistency(root):
    # The checks must be able to fail: remove a stored file and fake a half-applied batch.
    assert h.run_child(SCENARIO, root) == 0
    with h.open_escrow(h.make_config(root)) as ctx:
        row = ctx.store.get_data("bank1.train")
        ctx.storage.delete(row.owner, row.content_hash)
        ctx.store._db.execute("DELETE FROM app_state WHERE scope = 'batch' AND key = 'b1-1'")
    text = "\n".join(h.check_consistency(SCENARIO, root, ALL_STEPS))
    assert "[data_files]" in text and "[batches_all_or_nothing]" in text and "[state_match_audit]" in text
