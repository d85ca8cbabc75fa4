"""An agent's signed reads (`read.contracts`, `read.audit`: what `dsc contracts --escrow`, `dsc
audit --escrow` and the server's `/v1/contracts`, `/v1/audit/entries` answer) show what it is
party to and nothing else, and find it without reading every contract or every log entry: a
read runs in the transaction that spends its nonce, holding the store's write lock (red team
H32: at 100,000 contracts one listing held it 4-5 s, any registered agent could stall every
approval of the escrow)."""

import pytest
from datastation.runtime.escrow.actions import READ_AUDIT, READ_CONTRACTS
from harness import World

DSC = """agent bank1
agent bank2
agent lab
agent other
data bank1.t csv "b1.csv"
data bank2.t csv "b2.csv"
data other.t csv "o.csv"

contract pooled {
  by      lab
  compute rows(bank1.t)
  to      lab
}
contract own {
  by      bank2
  compute rows(bank2.t)
  to      bank1
}
"""


@pytest.fixture
def w(tmp_path):
    path = tmp_path / "s.dsc"
    path.write_text(DSC + "".join(f"contract x{i} {{\n  by other\n  compute rows(other.t)\n  to other\n}}\n"
                                  for i in range(30)))
    world = World(tmp_path, path)
    world.agent("bank1", "bank2", "lab", "other")
    for key in ("bank1.t", "bank2.t", "other.t"):
        world.data(key, b"x,y\n1,2\n")
    world.ids = {name: world.propose(name, by).id
                 for name, by in [("pooled", "lab"), ("own", "bank2"), *((f"x{i}", "other") for i in range(30))]}
    world.approve(world.ids["own"], "bank2")
    yield world
    world.close()


def contracts(w, agent, **params):
    return [r.name for r in w.escrow.contracts_for(w.escrow.sign_as(agent, READ_CONTRACTS, params))]


def audit(w, agent, **params):
    return w.escrow.audit_for(w.escrow.sign_as(agent, READ_AUDIT, params))


@pytest.fixture
def no_full_reads(w, monkeypatch):
    """Reading every contract, or the log without naming a contract, fails the test."""
    entries = w.store.audit_entries

    def listing(*args, **kwargs):
        raise AssertionError("an agent's read listed every contract")

    def all_entries(contract=None, agent=None, after_seq=0):
        if contract is None:
            raise AssertionError("an agent's read went through every log entry")
        return entries(contract=contract, agent=agent, after_seq=after_seq)

    monkeypatch.setattr(w.store, "list_contracts", listing)
    monkeypatch.setattr(w.store, "audit_entries", all_entries)


def test_an_agent_lists_the_contracts_it_is_party_to(w, no_full_reads):
    assert contracts(w, "bank1") == ["pooled", "own"]  # data owner of one, recipient of the other
    assert contracts(w, "bank2") == ["own"]  # proposer
    assert contracts(w, "lab") == ["pooled"]
    assert contracts(w, "bank1", status="approved") == ["own"]
    assert contracts(w, "bank1", pending=True) == ["pooled"]
    assert len(contracts(w, "other")) == 30


def test_an_agent_reads_the_log_of_its_contracts_and_about_itself(w, no_full_reads):
    mine = audit(w, "bank1")
    assert {e.contract for e in mine if e.contract} == {w.ids["pooled"], w.ids["own"]}
    assert {e.kind for e in mine if e.contract is None} == {"agent_created", "data_add"}
    assert all(e.actor == "bank1" or (e.payload or {}).get("agent") == "bank1"
               or (e.payload or {}).get("owner") == "bank1" for e in mine if e.contract is None)
    assert [e.seq for e in mine] == sorted(e.seq for e in mine)
    assert not any(e.contract in {w.ids[f"x{i}"] for i in range(30)} for e in mine)
    page = audit(w, "bank1", after=mine[1].seq, limit=2)
    assert [e.seq for e in page] == [e.seq for e in mine[2:4]]
    assert [e.kind for e in audit(w, "bank1", contract=w.ids["own"])] == ["proposal", "approval"]


def test_an_agent_lists_its_data_and_the_results_kept_from_it(w, monkeypatch):
    from datastation.runtime.escrow.actions import READ_DATA
    from datastation.runtime.store import DataRow

    for key, owner, provenance in (("pool", "_derived", ("bank1.t", "other.t")), ("solo", "_derived", ("other.t",)),
                                   ("odd", "bank2", ("other.t",))):
        w.store.put_data(DataRow(key=key, owner=owner, format="json", content_hash="h" + key, derived=True,
                                 provenance=provenance))
    listing = w.store.list_data

    def filtered(owner=None, *, derived=None):
        if owner is None and derived is None:
            raise AssertionError("an agent's read listed every data element")
        return listing(owner, derived=derived)

    monkeypatch.setattr(w.store, "list_data", filtered)

    def keys(agent):
        return [d["key"] for d in w.escrow.data_for(w.escrow.sign_as(agent, READ_DATA, {}))]

    assert keys("bank1") == ["bank1.t", "pool"]  # its own, and a result kept from its data
    assert keys("other") == ["odd", "other.t", "pool", "solo"]
    assert keys("bank2") == ["bank2.t"] and keys("lab") == []  # a kept result's provenance decides, not its owner


@pytest.mark.parametrize("name", ["_derived", "_DERIVED"])
def test_no_agent_is_named_like_the_owner_of_kept_results(w, name):
    # red team (session 10): kept results are stored with the owner `_derived`; an agent of that
    # name was shown every kept result of the escrow
    from datastation.runtime.escrow import EscrowRefusal

    with pytest.raises(EscrowRefusal) as info:
        w.agent(name)
    assert info.value.code == "name_reserved"
    with pytest.raises(EscrowRefusal) as info:
        w.escrow.invite(name, 3600)
    assert info.value.code == "name_reserved"
    assert w.store.get_agent(name) is None


def test_an_agent_reads_its_contracts_a_page_at_a_time(w):
    # red team (session 10): an agent party to 100,000 contracts (proposing them needs nobody's
    # consent, nor does proposing contracts over another's data) made each of its listings hold
    # the write lock 4.5 s; a request now reads one page
    assert contracts(w, "other", limit=1000) == [f"x{i}" for i in range(30)]
    pages, after = [], None
    while True:
        page = contracts(w, "other", limit=7, **({"after": w.ids[after]} if after else {}))
        if not page:
            break
        pages.append(page)
        after = page[-1]
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2] and sum(pages, []) == [f"x{i}" for i in range(30)]
    assert contracts(w, "bank1", pending=True, limit=1) == ["pooled"]
    assert contracts(w, "bank1", pending=True, after=w.ids["pooled"]) == []
    assert contracts(w, "bank1", limit=1, after=w.ids["pooled"]) == ["own"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"limit": True}, {"limit": "5"},
                                    {"after": "nope"}, {"after": 7}, {"after": "OTHER"}])
def test_a_page_asked_for_wrongly_is_refused(w, params):
    from datastation.runtime.escrow import EscrowRefusal

    if params.get("after") == "OTHER":  # a contract the agent is not party to: not a cursor of its pages
        params = {"after": w.ids["x3"]}
    with pytest.raises(EscrowRefusal) as info:
        contracts(w, "bank1", **params)
    assert info.value.code == "bad_request"


@pytest.mark.parametrize("many", [10**9, 1])  # the log read through the index, or in seq order
@pytest.mark.parametrize("params", [{"after": -1}, {"after": 2**63}, {"after": 2**70}, {"after": True},
                                    {"after": "5"}, {"after": 1.0}, {"limit": 0}, {"limit": 5001}])
def test_a_page_of_the_log_asked_for_wrongly_is_refused(w, params, many):
    # red team (session 11): `after` of 2**63 or more reached SQLite (OverflowError: an internal error)
    from datastation.runtime.escrow import EscrowRefusal

    w.store.MANY_CONTRACTS = many
    with pytest.raises(EscrowRefusal) as info:
        audit(w, "bank1", **params)
    assert info.value.code == "bad_request"
    assert audit(w, "bank1", after=2**63 - 1) == []


def test_the_review_page_lists_a_new_pending_contract_behind_a_full_page(tmp_path):
    # red team (session 10): the page signs one read.contracts, answered by one page (the 1,000
    # oldest); a contract proposed after 1,000 others over the owner's data was never shown
    import json

    from fastapi.testclient import TestClient

    from datastation.runtime.escrow import PROPOSE_MANY, make_bundle, propose_many_params
    from datastation.runtime.server.app import create_app

    w = World(tmp_path)
    try:
        w.agent("bank1", "mallory", "lab")
        w.data("bank1.t", b"x\n1\n")
        head = 'agent bank1\nagent mallory\nagent lab\ndata bank1.t csv "b.csv"\n'
        flood = tmp_path / "flood.dsc"
        flood.write_text(head + "".join(f"contract m{i} {{\n  by mallory\n  compute rows(bank1.t)\n  to mallory\n}}\n"
                                        for i in range(1000)))
        e = w.escrow
        e.propose_many(e.sign_as("mallory", PROPOSE_MANY, propose_many_params(make_bundle(flood), [f"m{i}" for i in range(1000)])))
        for i in range(0, 1000, 2):  # half of them dealt with: the page's first 1,000 hold others too
            w.reject(w.store.list_contracts(name=f"m{i}")[0].id, "bank1")
        late = tmp_path / "late.dsc"
        late.write_text(head + "contract late {\n  by lab\n  compute rows(bank1.t)\n  to lab\n}\n")
        cid = w.propose("late", "lab", late).id
        with TestClient(create_app(w.config, e)) as client:
            body = {"contracts": json.loads(e.sign_as("bank1", READ_CONTRACTS, {}).to_json())}
            page = client.post("/review/contracts", json=body)
        assert page.status_code == 200 and cid[:12] in page.text and "late" in page.text
        pending_part = page.text.split('id="pending-list"')[1].split("</ul>")[0]
        assert cid[:12] in pending_part
    finally:
        w.close()


def test_refusals_stay_out_of_a_contracts_history(w):
    # red team (session 10, H39): a non-party's refused reads of a contract were entries of that
    # contract: 1,000 of them pushed the owner's approval out of the history's first page. A party
    # could do the same with its own refused requests (H43): no refusal is an entry of a contract.
    from datastation.runtime.escrow import APPROVE, EscrowRefusal
    from datastation.runtime.escrow.actions import READ_STATUS

    own = w.ids["own"]
    for _ in range(3):
        with pytest.raises(EscrowRefusal):
            w.escrow.status_for(w.escrow.sign_as("other", READ_STATUS, {"contract": own}))
    for _ in range(50):  # a party (bank2 approved already): each refused, none in the history
        with pytest.raises(EscrowRefusal):
            w.escrow.approve(w.escrow.sign_as("bank2", APPROVE, w.escrow.approval_params("bank2", own)))
    for reader in ("bank1", "bank2"):
        history = audit(w, reader, contract=own)
        assert [(e.kind, e.actor) for e in history] == [("proposal", "bank2"), ("approval", "bank2")]
    theirs = [e for e in audit(w, "other") if e.kind == "refusal"]
    assert len(theirs) == 3 and all(e.contract is None and e.payload["contract"] == own for e in theirs)
    mine = [e for e in audit(w, "bank2") if e.kind == "refusal"]
    assert len(mine) == 50 and all(e.contract is None and e.payload["contract"] == own for e in mine)
    assert not [e for e in audit(w, "bank1") if e.kind == "refusal"]  # the other party reads none of them