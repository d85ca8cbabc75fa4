"""Attempts (issue 10 item 5) keep the lifecycle's promises: a proposer cannot get a released
result a second time by proposing the contract again, cannot carry over the approval of an
owner who then rejected it, and a row whose attempt was edited is caught by `dsc audit verify`."""

import shutil
from pathlib import Path

import pytest

from datastation.runtime.escrow import EscrowRefusal
from datastation.runtime.escrow.verify import verify_store
from harness import World

FIXTURES = Path(__file__).parents[1] / "contracts" / "fixtures"


@pytest.fixture
def w(tmp_path):
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    world = World(tmp_path, src / "bank.dsc")
    world.setup_from_file()
    yield world
    world.close()


def _approved(w) -> str:
    cid = w.propose("joint_model", "bank1").id
    w.approve(cid, "bank1")
    w.approve(cid, "bank2")
    assert w.store.get_contract(cid).status == "approved"
    return cid


def test_a_released_contract_cannot_be_proposed_again_to_release_twice(w):
    cid = _approved(w)
    assert w.execute(cid, "bank1").status == "executed"
    with pytest.raises(EscrowRefusal) as exc:
        w.propose("joint_model", "bank1")
    assert exc.value.code == "already_executed"
    with pytest.raises(EscrowRefusal):
        w.execute(cid, "bank2")
    assert len(w.store.executions(cid)) == 1 and len(w.store.releases(contract_id=cid)) == 2


def test_an_approval_followed_by_a_rejection_does_not_carry_over(w):
    cid = _approved(w)
    w.reject(cid, "bank2", "not any more")
    row = w.propose("joint_model", "bank1")  # a new attempt
    assert row.id == cid and row.status == "pending" and row.meta["attempt"] == 2
    with pytest.raises(EscrowRefusal) as exc:
        w.execute(cid, "bank1")
    assert exc.value.code == "awaiting_approval"
    assert [a.agent for a in w.store.approvals(cid)] == []  # a rejected attempt: every owner decides afresh
    assert verify_store(w.escrow.ctx).ok


def test_only_the_proposer_starts_a_new_attempt(w):
    cid = _approved(w)
    w.revoke(cid, "bank1")
    with pytest.raises(EscrowRefusal) as exc:
        w.propose("joint_model", "bank2")
    assert exc.value.code == "not_proposer"
    assert w.store.get_contract(cid).status == "revoked"


def test_an_edited_attempt_is_detected(w):
    cid = _approved(w)
    w.revoke(cid, "bank1")
    w.propose("joint_model", "bank1")
    row = w.store.get_contract(cid)
    w.store.set_contract_status(cid, row.status, {**row.meta, "attempt": 1})
    report = verify_store(w.escrow.ctx)
    assert any("attempt" in p for p in report.problems), report.problems
