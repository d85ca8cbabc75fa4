"""A proposal's bundle is stored once (`bundles`, keyed by the sha256 of its canonical JSON) however
many contracts are proposed from it; readers see `meta["bundle"]` and `source` as before, on
SQLite and on PostgreSQL."""

import hashlib
import json

import pytest

from datastation.runtime.store import ContractRow, Conflict, open_store

BUNDLE = {"file": "f.dsc", "source": "agent a\n" * 50, "modules": {"m.py": "def f(x):\n    return x\n"}}


@pytest.fixture
def store(config):
    s = open_store(config)
    yield s
    s.close()


def row(cid, bundle=BUNDLE, **meta):
    return ContractRow(id=cid, name=cid, canonical="{}", proposer="a", status="pending", inputs=("a.t",),
                       recipients=("a",), source_agents=("a",), function_hashes={}, source=bundle["source"],
                       meta={"bundle": bundle, "kept_as": None, **meta})


def bundle_rows(store):
    return store._all("SELECT sha256, body FROM bundles")


def test_one_bundle_row_for_many_contracts_and_each_reads_it_back(store):
    with store.transaction():
        for i in range(5):
            store.put_contract(row(f"c{i}"))
    (ref, body), = bundle_rows(store)
    assert ref == hashlib.sha256(json.dumps(BUNDLE, sort_keys=True, separators=(",", ":"),
                                            ensure_ascii=False).encode()).hexdigest()  # the log's bundle_sha256
    for i in range(5):
        got = store.get_contract(f"c{i}")
        assert got.meta == {"bundle": BUNDLE, "kept_as": None} and got.source == BUNDLE["source"]
    assert store._all("SELECT meta FROM contracts WHERE id = 'c0'")[0][0] == '{"kept_as":null}'  # not inline


def test_a_refused_row_leaves_no_bundle(store):
    store.put_contract(row("c0"))
    with pytest.raises(Conflict):
        store.put_contract(row("c0", dict(BUNDLE, source="other")))
    assert len(bundle_rows(store)) == 1


def test_a_status_change_with_meta_keeps_the_bundle(store):
    store.put_contract(row("c0"))
    got = store.get_contract("c0")
    store.set_contract_status("c0", "approved", {**got.meta, "attempt": 2})
    again = store.get_contract("c0")
    assert again.status == "approved" and again.meta["bundle"] == BUNDLE and again.meta["attempt"] == 2
    assert len(bundle_rows(store)) == 1


def test_changing_a_read_row_changes_nothing_stored(store):
    store.put_contract(row("c0"))
    got = store.get_contract("c0")
    got.meta["bundle"]["modules"]["m.py"] = "evil"
    got.meta["bundle"]["source"] = "evil"
    assert store.get_contract("c0").meta["bundle"] == BUNDLE


def test_an_edited_bundle_row_is_what_the_next_read_sees(store):
    # no reader is handed a remembered copy of what the table no longer holds (the log check
    # that follows, `facts.py`, then refuses the contract)
    store.put_contract(row("c0"))
    assert store.get_contract("c0").meta["bundle"] == BUNDLE
    with store.transaction():
        store._write("t", "UPDATE bundles SET body = ?", (json.dumps({**BUNDLE, "source": "changed"}),))
    got = store.get_contract("c0")
    assert got.meta["bundle"]["source"] == "changed" and got.source == "changed"
    with store.transaction():
        store._write("t", "DELETE FROM bundles")
    assert "bundle" not in store.get_contract("c0").meta


def test_a_row_stored_with_its_bundle_inline_reads_as_before(store):
    # rows written before bundles had their own table
    with store.transaction():
        store._write("t", "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs,"
                          " recipients, source_agents, meta, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     ("old", "old", "{}", BUNDLE["source"], "{}", "a", "pending", '["a.t"]', '["a"]', '["a"]',
                      json.dumps({"bundle": BUNDLE}), 1.0, 1.0))
    got = store.get_contract("old")
    assert got.meta == {"bundle": BUNDLE} and got.source == BUNDLE["source"]
    store.set_contract_status("old", "approved", {**got.meta, "attempt": 2})
    assert store.get_contract("old").meta["bundle"] == BUNDLE


def test_contracts_of_different_bundles_each_keep_their_own(store):
    other = {**BUNDLE, "source": "agent b\n"}
    text_a = json.dumps(BUNDLE, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text_b = json.dumps(other, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    with store.transaction():
        ref_a, ref_b = store.put_bundle(text_a), store.put_bundle(text_b)
        for cid, bundle, ref in (("a1", BUNDLE, ref_a), ("b1", other, ref_b), ("a2", BUNDLE, ref_a),
                                 ("b2", other, ref_b), ("a3", BUNDLE, None)):
            store.put_contract(row(cid, bundle), bundle_ref=ref)
    assert len(bundle_rows(store)) == 2
    for cid, bundle in (("a1", BUNDLE), ("a2", BUNDLE), ("a3", BUNDLE), ("b1", other), ("b2", other)):
        assert store.get_contract(cid).meta["bundle"] == bundle


def test_a_list_reads_each_bundle_once_and_gives_every_row_its_own(store):
    other = {**BUNDLE, "source": "agent b\n"}
    for cid, bundle in (("a1", BUNDLE), ("b1", other), ("a2", BUNDLE), ("a3", BUNDLE), ("b2", other)):
        store.put_contract(row(cid, bundle))
    reads = []
    original = store._all

    def counting(sql, params=()):
        if "FROM bundles" in sql:
            reads.append(params)
        return original(sql, params)

    store._all = counting
    try:
        listings = {
            "list_contracts": store.list_contracts(),
            "find_contracts": store.find_contracts("a") + store.find_contracts("b"),
            "pending_for": store.pending_for("a"),
            "contracts_using": store.contracts_using("a.t"),
        }
    finally:
        store._all = original
    for what, rows in listings.items():
        assert sorted(r.id for r in rows) == ["a1", "a2", "a3", "b1", "b2"], what
        for r in rows:
            assert r.meta["bundle"] == (BUNDLE if r.id.startswith("a") else other), (what, r.id)
            assert r.source == r.meta["bundle"]["source"], (what, r.id)
    # one read of the bundles per listing (two for the two prefixes), each bundle named once in it
    assert len(reads) == 5 and all(len(set(p)) == len(p) for p in reads)
    assert sorted(len(p) for p in reads) == [1, 1, 2, 2, 2]


def test_a_listed_row_whose_bundle_row_is_gone_reads_without_it(store):
    store.put_contract(row("c0"))
    with store.transaction():
        store._write("t", "UPDATE contracts SET bundle_ref = ? WHERE id = ?", ("0" * 64, "c0"))
    (got,) = store.list_contracts()
    assert "bundle" not in got.meta and got.meta["kept_as"] is None
    assert store.get_contract("c0").meta == got.meta


def test_contracts_keeping_a_name_are_found_by_one_query(store):
    from datastation.contracts.status import ContractStatus

    store.put_contract(row("k1", kept_as="pool"))
    store.put_contract(row("k2", kept_as="other"))
    store.put_contract(row("k3", kept_as="pool"))
    store.set_contract_status("k3", "rejected")
    store.put_contract(ContractRow(id="old", name="old", canonical="{}", proposer="a", status="pending",
                                   inputs=(), recipients=(), source_agents=(), function_hashes={}, source="",
                                   meta={"kept_as": 7}))  # not a name: matches none
    with store.transaction():  # a row whose meta is not JSON: matches none, breaks nothing
        store._write("t", "UPDATE contracts SET meta = ? WHERE id = ?", ("{not json", "k2"))
    found = store.contracts_keeping("pool", (ContractStatus.PENDING, ContractStatus.APPROVED))
    assert [r.id for r in found] == ["k1"] and found[0].meta["bundle"] == BUNDLE
    assert [r.id for r in store.contracts_keeping("pool", ("rejected",))] == ["k3"]
    assert store.contracts_keeping("7", ("pending",)) == [] and store.contracts_keeping("other", ("pending",)) == []
