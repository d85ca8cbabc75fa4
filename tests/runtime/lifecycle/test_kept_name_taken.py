"""A kept result's name is the escrow's: a contract may not be proposed to keep a name that a data
element, or another contract still open, running or executed, keeps (refusal `kept_taken`); a
contract that ended without keeping frees it. Found with one query, however many contracts
the escrow holds (`Store.contracts_keeping`)."""

import pytest
from datastation.runtime.escrow import EscrowRefusal
from harness import World


def keeping(name: str, contract: str) -> str:
    return (f'agent a\nagent b\ndata a.t csv "a.csv"\n\n'
            f"contract {contract} {{\n  by a\n  keep {name} = rows(a.t)\n}}\n")


@pytest.fixture
def w(tmp_path):
    world = World(tmp_path)
    world.agent("a", "b")
    world.data("a.t", b"x,y\n1,2\n")
    yield world
    world.close()


def propose(w, tmp_path, name: str, contract: str):
    path = tmp_path / f"{contract}.dsc"
    path.write_text(keeping(name, contract))
    return w.propose(contract, "a", path)


@pytest.mark.parametrize("first_status", ["pending", "approved"])
def test_a_name_an_open_contract_keeps_is_taken(w, tmp_path, first_status):
    first = propose(w, tmp_path, "shared", "first")
    if first_status == "approved":
        assert w.approve(first.id, "a").status == "approved"
    with pytest.raises(EscrowRefusal) as exc:
        propose(w, tmp_path, "shared", "second")
    assert exc.value.code == "kept_taken"
    assert [c.name for c in w.store.list_contracts()] == ["first"]


def test_a_name_an_executed_contract_kept_is_taken(w, tmp_path):
    first = propose(w, tmp_path, "shared", "first")
    w.approve(first.id, "a")
    assert w.execute(first.id, "a").kept == "shared"
    with pytest.raises(EscrowRefusal) as exc:
        propose(w, tmp_path, "shared", "second")
    assert exc.value.code == "kept_taken"


def test_a_rejected_contract_frees_the_name_and_another_name_is_free(w, tmp_path):
    first = propose(w, tmp_path, "shared", "first")
    assert propose(w, tmp_path, "other", "third").status == "pending"  # another name: free
    w.reject(first.id, "a")
    assert propose(w, tmp_path, "shared", "second").status == "pending"


def test_the_store_finds_the_contracts_keeping_a_name_by_status(w, tmp_path):
    first = propose(w, tmp_path, "shared", "first")
    propose(w, tmp_path, "other", "third")
    assert [r.id for r in w.store.contracts_keeping("shared", ("pending", "approved"))] == [first.id]
    assert w.store.contracts_keeping("shared", ("approved",)) == []
    assert w.store.contracts_keeping("nothing", ("pending",)) == []


def test_a_batch_of_keep_contracts_reads_no_list_of_every_contract(w, tmp_path, monkeypatch):
    # red team H29: each item listed every contract of the escrow (bundles included) inside the
    # batch's one transaction: 1,000 items held the write lock for minutes
    from datastation.runtime.escrow import PROPOSE_MANY, make_bundle, propose_many_params

    path = tmp_path / "many.dsc"
    path.write_text('agent a\nagent b\ndata a.t csv "a.csv"\n\n' + "".join(
        f"contract c{i} {{\n  by a\n  keep k{i} = rows(a.t)\n}}\n" for i in range(5)))

    def listing(*args, **kwargs):
        raise AssertionError("a proposal listed every contract")

    monkeypatch.setattr(w.store, "list_contracts", listing)
    names = [f"c{i}" for i in range(5)]
    done = w.escrow.propose_many(w.escrow.sign_as("a", PROPOSE_MANY, propose_many_params(make_bundle(path), names)))
    assert [p.row.meta["kept_as"] for p in done] == [f"k{i}" for i in range(5)]
