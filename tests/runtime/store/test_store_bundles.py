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
