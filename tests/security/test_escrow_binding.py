"""Hole 6: every signed message names the escrow it is for. A request or an approval made for
escrow A is worth nothing at escrow B, even where B registered the very same agent keys."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from datastation.runtime.escrow import APPROVE, DATA_REMOVE, EXECUTE, PROPOSE, EscrowRefusal, make_bundle, propose_params
from datastation.runtime.keys import canonical_json, generate_key, public_pem, sign, SignedRequest
from datastation.runtime.store import ApprovalRow
from harness import World

FIXTURES = Path(__file__).parents[1] / "contracts" / "fixtures"


@pytest.fixture
def escrows(tmp_path):
    """Escrows A and B on the bank fixture; B registered the same agent keys as A."""
    src = tmp_path / "bank"
    shutil.copytree(FIXTURES, src)
    a = World(tmp_path / "A", src / "bank.dsc")
    a.setup_from_file()
    b = World(tmp_path / "B", src / "bank.dsc")
    for name in ("bank1", "bank2", "auditor"):
        b.escrow.register_agent(name, a.store.get_agent(name).public_key)
    _share_keys(a, b)
    for key in ("bank1.train", "bank1.test", "bank2.train", "bank2.test"):
        owner, name = key.split(".")
        b.data(key, (src / f"{owner}_{name}.csv").read_bytes())
    yield a, b
    a.close()
    b.close()


def _share_keys(a: World, b: World) -> None:
    """B's client signs with the keys A's agents hold (the same people, the same keys)."""
    for p in Path(a.config.keyring_path).glob("*.pem"):
        dst = Path(b.config.keyring_path) / p.name
        dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not dst.exists():
            shutil.copy2(p, dst)


def _refused(world: World, code: str, action):
    n = world.store.audit_count()
    with pytest.raises(EscrowRefusal) as info:
        action()
    assert info.value.code == code, str(info.value)
    if code == "wrong_escrow":  # not authenticated: refused without an audit entry (counted in memory)
        assert world.store.audit_count() == n and world.escrow.ctx.unauthenticated.total[code] >= 1
        return
    last = list(world.store.audit_entries())[-1]
    assert last.kind == "refusal" and last.payload["code"] == code


def test_a_request_signed_for_escrow_a_is_refused_by_escrow_b(escrows):
    a, b = escrows
    propose = a.escrow.sign_as("bank1", PROPOSE, propose_params(make_bundle(a.dsc), "joint_model"))
    cid = a.escrow.propose(propose).row.id
    _refused(b, "wrong_escrow", lambda: b.escrow.propose(propose))
    assert b.store.get_contract(cid) is None

    assert b.propose("joint_model", "bank1").id == cid  # the same contract, proposed at B for B
    approve = a.escrow.sign_as("bank2", APPROVE, a.escrow.approval_params("bank2", cid))
    a.escrow.approve(approve)
    _refused(b, "wrong_escrow", lambda: b.escrow.approve(approve))
    assert [x.agent for x in b.store.approvals(cid)] == []


def test_an_approval_signed_for_escrow_a_does_not_count_at_escrow_b(escrows):
    a, b = escrows
    cid = a.propose("joint_model", "bank1").id
    assert b.propose("joint_model", "bank1").id == cid
    a.approve(cid, "bank2")
    (stolen,) = [x for x in a.store.approvals(cid) if x.agent == "bank2"]

    # carried in a request bank2's own client signs for B: not an approval of B's contract
    req = b.escrow.sign_as("bank2", APPROVE, {"contract": cid, "signature": stolen.signature})
    _refused(b, "bad_approval", lambda: b.escrow.approve(req))

    # written into B's store (by whoever can): execution does not count it
    b.approve(cid, "bank1")
    b.store.add_approval(ApprovalRow(contract_id=cid, agent="bank2", signature=stolen.signature, ts=stolen.ts))
    _refused(b, "awaiting_approval", lambda: b.execute(cid, "bank2"))
    assert b.store.releases(contract_id=cid) == []


def test_a_request_that_names_no_escrow_is_refused(escrows):
    a, _ = escrows
    key = generate_key()
    a.escrow.register_agent("carol", public_pem(key))
    envelope = {"action": DATA_REMOVE, "params": {"key": "carol.nothing"}, "agent": "carol",
                "nonce": "0123456789abcdef", "timestamp": __import__("time").time()}
    request = SignedRequest(envelope, sign(key, canonical_json(envelope)))
    _refused(a, "wrong_escrow", lambda: a.escrow.remove_data(request))


def test_each_escrow_has_its_own_id_and_requests_carry_it(escrows):
    a, b = escrows
    assert a.escrow.ctx.escrow_id != b.escrow.ctx.escrow_id
    req = a.escrow.sign_as("bank1", EXECUTE, {"contract": "x"})
    assert req.envelope["escrow"] == a.escrow.ctx.escrow_id
