"""`contract.propose_many` and `contract.approve_many`: several contracts in one signed request
and one transaction, each recorded exactly as its single action records it, all or nothing."""

from __future__ import annotations

import pytest
from harness import World

from datastation.runtime.audit import verify_log
from datastation.runtime.escrow import (
    APPROVE, APPROVE_MANY, PROPOSE, PROPOSE_MANY, EscrowRefusal, make_bundle, propose_many_params, propose_params,
)
from datastation.runtime.escrow.lifecycle import MAX_BATCH
from datastation.runtime.escrow.verify import verify_store

# c0, c1 proposed by a0; c2 by a1. c0 and c2 read a1's data, c1 a0's.
SCENARIO = """agent a0
agent a1
agent a2
data a0.t csv "a0.csv"
data a1.t csv "a1.csv"
contract c0 {
  by a0
  compute rows(a1.t)
  to a2
}
contract c1 {
  by a0
  compute rows(a0.t)
  to a1
}
contract c2 {
  by a1
  compute rows(a1.t)
  to a2
}
"""


@pytest.fixture
def w(tmp_path):
    (tmp_path / "s.dsc").write_text(SCENARIO)
    world = World(tmp_path, tmp_path / "s.dsc")
    world.agent("a0", "a1", "a2")
    world.data("a0.t", b"x,y\n1,2\n")
    world.data("a1.t", b"x,y\n3,4\n5,6\n")
    yield world
    world.close()


def propose_many(w, agent, names, bundle=None):
    bundle = bundle or make_bundle(w.dsc)
    return w.escrow.propose_many(w.escrow.sign_as(agent, PROPOSE_MANY, propose_many_params(bundle, names)))


def approve_many(w, agent, cids, approvals=None):
    approvals = approvals or [w.escrow.approval_params(agent, c) for c in cids]
    return w.escrow.approve_many(w.escrow.sign_as(agent, APPROVE_MANY, {"approvals": approvals}))


def state(w):
    """Everything a refused batch must leave as it was (refusal entries aside)."""
    s = w.store
    return ([(r.id, r.status) for r in s.list_contracts()],
            [(r.id, a.agent) for r in s.list_contracts() for a in s.approvals(r.id)],
            [e.kind for e in s.audit_entries() if e.kind != "refusal"])


def refusals(w):
    return [e for e in w.store.audit_entries() if e.kind == "refusal"]


def test_a_batch_records_each_contract_as_the_single_action_does(w, tmp_path):
    rows = [p.row for p in propose_many(w, "a0", ["c0", "c1"])]
    assert [r.name for r in rows] == ["c0", "c1"] and all(r.status == "pending" for r in rows)
    # the same contracts proposed one by one at another escrow: the same identities, sources, rows
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "s.dsc").write_text(SCENARIO)
    single = World(tmp_path / "other", tmp_path / "other" / "s.dsc")
    try:
        single.agent("a0", "a1", "a2")
        single.data("a0.t", b"x,y\n1,2\n")
        single.data("a1.t", b"x,y\n3,4\n5,6\n")
        for r in rows:
            one = single.propose(r.name, "a0")
            assert (one.id, one.source_agents, one.inputs, one.recipients, one.meta["source_data"]) == \
                (r.id, r.source_agents, r.inputs, r.recipients, r.meta["source_data"])
    finally:
        single.close()
    proposals = [e for e in w.store.audit_entries() if e.kind == "proposal"]
    assert [e.contract for e in proposals] == [r.id for r in rows]  # one signed entry each
    approved = approve_many(w, "a1", [rows[0].id])
    assert [r.status for r in approved] == ["approved"]
    assert [r.status for r in approve_many(w, "a0", [rows[1].id])] == ["approved"]
    assert [e.kind for e in w.store.audit_entries()].count("approval") == 2
    assert verify_log(w.store, w.escrow.ctx.escrow_public_pem).ok and verify_store(w.escrow.ctx).ok
    assert w.execute(rows[0].id, "a2").status == "executed"  # the decision counts batch approvals


def test_approve_many_returns_the_rows_as_stored(w):
    rows = [p.row for p in propose_many(w, "a0", ["c0", "c1"])]
    c2 = propose_many(w, "a1", ["c2"])[0].row
    out = approve_many(w, "a1", [rows[0].id, c2.id])
    assert out == [w.store.get_contract(rows[0].id), w.store.get_contract(c2.id)]


def test_one_bad_approval_refuses_the_batch_and_records_nothing(w):
    c0 = w.propose("c0", "a0")
    c2 = w.propose("c2", "a1")
    before = state(w)
    good = w.escrow.approval_params("a1", c0.id)
    wrong = {"contract": c2.id, "signature": good["signature"]}  # a1's signature of c0, offered for c2
    with pytest.raises(EscrowRefusal) as exc:
        approve_many(w, "a1", None, approvals=[good, wrong])
    assert exc.value.code == "bad_approval" and "item 2 of 2" in str(exc.value)
    assert state(w) == before  # c0's good approval was rolled back with the rest
    assert refusals(w)[-1].payload["code"] == "bad_approval"


def test_a_contract_the_signer_owns_no_data_of_refuses_the_batch(w):
    c0, c1 = w.propose("c0", "a0"), w.propose("c1", "a0")
    before = state(w)
    with pytest.raises(EscrowRefusal) as exc:
        approve_many(w, "a1", [c0.id, c1.id])  # c1 reads a0's data only
    assert exc.value.code == "not_source_agent"
    assert state(w) == before


def test_one_refused_proposal_refuses_the_batch_and_proposes_nothing(w):
    before = state(w)
    for names, code in ((["c0", "c2"], "not_proposer"), (["c0", "nope"], "no_contract")):
        with pytest.raises(EscrowRefusal) as exc:
            propose_many(w, "a0", names)
        assert exc.value.code == code
        assert state(w) == before
    w.propose("c1", "a0")
    before = state(w)
    with pytest.raises(EscrowRefusal) as exc:
        propose_many(w, "a0", ["c0", "c1"])  # c1 is already proposed
    assert exc.value.code == "already_proposed" and state(w) == before


def test_a_changed_identity_refuses_the_batch(w):
    params = propose_many_params(make_bundle(w.dsc), ["c0", "c1"], {"c1": "0" * 64})
    with pytest.raises(EscrowRefusal) as exc:
        w.escrow.propose_many(w.escrow.sign_as("a0", PROPOSE_MANY, params))
    assert exc.value.code == "identity_mismatch" and w.store.list_contracts() == []


@pytest.mark.parametrize("contracts", [[], "c0", ["c0", "c0"], [{"contract": "c0"}, {"name": "c1"}],
                                       [{"contract": 5}], [{"contract": "c0", "identity": 7}],
                                       [{"contract": f"c{i}"} for i in range(MAX_BATCH + 1)]])
def test_a_malformed_propose_batch_is_refused(w, contracts):
    items = [c if isinstance(c, dict) else {"contract": c} for c in contracts] if isinstance(contracts, list) \
        else contracts
    req = w.escrow.sign_as("a0", PROPOSE_MANY, {"bundle": make_bundle(w.dsc), "contracts": items})
    with pytest.raises(EscrowRefusal) as exc:
        w.escrow.propose_many(req)
    assert exc.value.code == "bad_request" and w.store.list_contracts() == []


@pytest.mark.parametrize("approvals", [[], None, [{"contract": "x"}], ["c0"], "dup",
                                       [{"contract": str(i), "signature": "s"} for i in range(MAX_BATCH + 1)]])
def test_a_malformed_approve_batch_is_refused(w, approvals):
    c0 = w.propose("c0", "a0")
    if approvals == "dup":
        approvals = [w.escrow.approval_params("a1", c0.id)] * 2
    before = state(w)
    with pytest.raises(EscrowRefusal) as exc:
        w.escrow.approve_many(w.escrow.sign_as("a1", APPROVE_MANY, {"approvals": approvals}))
    assert exc.value.code == "bad_request" and state(w) == before


def test_a_request_signed_for_another_action_is_refused(w):
    # the signature binds the action: a single propose (or approve) is not a batch, nor the reverse
    bundle = make_bundle(w.dsc)
    for send, action, params in ((w.escrow.propose_many, PROPOSE, propose_many_params(bundle, ["c0"])),
                                 (w.escrow.propose, PROPOSE_MANY, propose_params(bundle, "c0"))):
        with pytest.raises(EscrowRefusal) as exc:
            send(w.escrow.sign_as("a0", action, params))
        assert exc.value.code == "wrong_action"
    assert w.store.list_contracts() == []
    c0 = w.propose("c0", "a0")
    with pytest.raises(EscrowRefusal) as exc:
        w.escrow.approve_many(w.escrow.sign_as("a1", APPROVE, w.escrow.approval_params("a1", c0.id)))
    assert exc.value.code == "wrong_action" and w.store.approvals(c0.id) == []


def test_a_replayed_batch_is_refused(w):
    req = w.escrow.sign_as("a0", PROPOSE_MANY, propose_many_params(make_bundle(w.dsc), ["c0", "c1"]))
    w.escrow.propose_many(req)
    with pytest.raises(EscrowRefusal) as exc:
        w.escrow.propose_many(req)
    assert exc.value.code == "replay"


def test_a_batch_is_one_transaction_and_one_signed_head(w):
    w.propose("c1", "a0")  # something in the log before
    heads = []
    store = w.store
    original = store.set_audit_head
    store.set_audit_head = lambda *a: (heads.append(a[2]), original(*a))[1]
    try:
        propose_many(w, "a0", ["c0"])
        c2 = propose_many(w, "a1", ["c2"])[0].row
        c0 = store.list_contracts(name="c0")[0]
        approve_many(w, "a1", [c0.id, c2.id])
    finally:
        store.set_audit_head = original
    assert len([h for h in heads if h]) == 3  # the head signed once per request, however many entries it wrote
    assert verify_log(store, w.escrow.ctx.escrow_public_pem).ok
