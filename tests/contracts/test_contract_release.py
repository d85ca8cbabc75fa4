"""The release decision: every conjunct is needed, and the first failing one is named."""

import itertools

import pytest

from datastation.contracts import release as R


def facts(**kw):
    idx = R.AgentBits(["a", "b", "c"])
    base = dict(required=idx.mask(["a", "b"]), approved=idx.mask(["a", "b"]), recipients=frozenset({"c"}),
                requires_held=True, ensures_held=True)
    base.update(kw)
    return R.ReleaseFacts(**base)


def test_release_when_everything_holds():
    assert R.release_decision(facts(), "c") == R.RELEASE


@pytest.mark.parametrize(
    "change,reason",
    [
        (dict(approved=0b01), R.AWAITING),
        (dict(denied=True), R.DENIED),
        (dict(rejected=True), R.REJECTED),
        (dict(revoked=True), R.REVOKED),
        (dict(requires_held=False), R.REQUIRE_FAILED),
        (dict(ensures_held=False), R.ENSURE_FAILED),
        (dict(ensures_held=None), R.NOT_EVALUATED),
    ],
)
def test_each_conjunct_blocks(change, reason):
    assert R.release_decision(facts(**change), "c") == reason


def test_only_recipients():
    assert R.release_decision(facts(), "a") == R.NOT_RECIPIENT


def test_deny_beats_complete_approvals():
    assert R.release_decision(facts(denied=True), "c") == R.DENIED
    assert R.may_execute(facts(denied=True)) == R.DENIED


def test_exhaustive_truth_table():
    for denied, rejected, revoked, appr, req, ens in itertools.product([0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1]):
        f = facts(denied=bool(denied), rejected=bool(rejected), revoked=bool(revoked),
                  approved=0b11 if appr else 0b10, requires_held=bool(req), ensures_held=bool(ens))
        expected = not denied and not rejected and not revoked and appr and req and ens
        assert (R.release_decision(f, "c") == R.RELEASE) == bool(expected)


def test_index():
    idx = R.ReleaseIndex()
    f = idx.add("c1", ["a", "b"], ["b"])
    f.requires_held = f.ensures_held = True
    assert idx.decide("c1", "b") == R.AWAITING and idx.missing("c1") == ["a", "b"]
    idx.approve("c1", "a")
    idx.approve("c1", "b")
    assert idx.decide("c1", "b") == R.RELEASE
    assert idx.decide("nope", "b") == R.NOT_RECIPIENT
