"""Rows written at each older schema version, with the SQL valid at that version on SQLite and on
PostgreSQL, and what must read back through the Store API once the store is migrated: one set
for `test_store_migrations.py` and `test_store_pg_migrations.py`."""

SEED = {
    1: [
        "INSERT INTO agents VALUES ('bank1', 'First Bank', 'PEM', 1.0)",
        "INSERT INTO data VALUES ('bank1.train', 'bank1', 'csv', 'h1', '{\"a\":\"int\"}', NULL, 0, '[]', 1.0)",
        "INSERT INTO contracts VALUES ('c1', 'joint', '{}', 'src', '{}', 'bank1', 'pending', '[\"bank1.train\"]',"
        " '[\"bank1\"]', '[\"bank1\"]', 1.0, 1.0)",
        "INSERT INTO approvals VALUES ('c1', 'bank1', 'sig', NULL, 2.0)",
    ],
    2: [
        "INSERT INTO app_state VALUES ('s', 'k', '[1,2]', 1.0)",
        "INSERT INTO nonces VALUES ('bank1', 'n1', 1.0)",
    ],
    3: [
        "INSERT INTO executions (contract_id, actor, status, started, finished, detail)"
        " VALUES ('c1', 'bank1', 'executed', 1.0, 2.0, '{}')",
        "INSERT INTO releases VALUES ('c1', 'bank1', '/out/r.json', 'h2', 1, 2.0)",
        "INSERT INTO audit VALUES (1, 1.0, 'agent_created', 'bank1', NULL, '{}', '0', 'h', 's')",
    ],
    6: [  # a contract keeping its result as `pool` (found by the `kept_as` column of version 7)
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated) VALUES ('k1', 'keeper', '{}', 'src', '{}', 'bank1', 'approved',"
        " '[\"bank1.train\"]', '[]', '[\"bank1\"]', '{\"kept_as\":\"pool\"}', 3.0, 3.0)",
    ],
    7: [  # a contract whose parties are three different agents, one row's lists not JSON (back-filled
        # into the contract_parties of version 8)
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated, kept_as) VALUES ('p1', 'pooled', '{}', 'src', '{}', 'lab', 'pending',"
        " '[\"bank1.train\"]', '[\"insurer\"]', '[\"bank1\"]', '{}', 4.0, 4.0, NULL)",
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated, kept_as) VALUES ('p2', 'mangled', '{}', 'src', '{}', 'lab', 'pending',"
        " '[]', 'not json', '{\"bank1\": 1}', '{}', 5.0, 5.0, NULL)",
        "INSERT INTO contracts (id, name, canonical, source, function_hashes, proposer, status, inputs, recipients,"
        " source_agents, meta, created, updated, kept_as) VALUES ('p3', 'nested', '{}', 'src', '{}', 'lab', 'pending',"
        " '[]', '[[\"dave\"]]', '[\"insurer\", {}]', '{}', 6.0, 6.0, NULL)",
        "INSERT INTO audit VALUES (2, 2.0, 'proposal', 'lab', 'p1', '{}', 'h', 'h2', 's')",
        "INSERT INTO audit VALUES (3, 3.0, 'data_add', 'admin', NULL, '{\"owner\":\"insurer\"}', 'h2', 'h3', 's')",
        "INSERT INTO audit VALUES (4, 4.0, 'app_state', 'lab', NULL, 'not json', 'h3', 'h4', 's')",
    ],
}


def check_migrated(store, start: int) -> None:
    """The rows of `SEED` up to version `start` read back from `store`, now at the latest version."""
    assert store.get_agent("bank1").display == "First Bank"
    d = store.get_data("bank1.train")
    assert (d.inferred_schema, d.size) == ({"a": "int"}, 0)
    c = store.get_contract("c1")
    assert c.meta == {} and c.inputs == ("bank1.train",)
    assert [x.id for x in store.contracts_using("bank1.train")] == ["c1"]  # contract_inputs back-filled
    assert [a.agent for a in store.approvals("c1")] == ["bank1"]
    if start >= 2:
        assert store.get_state("s", "k") == [1, 2]
    if start >= 3:
        (rel,) = store.releases(contract_id="c1")
        assert (rel.content_hash, rel.file_hash, rel.execution_id) == ("h2", None, 1)
        assert store.get_setting("audit.genesis") is None  # an older store's log keeps its history
    if start >= 6:
        assert [r.id for r in store.contracts_keeping("pool", ("approved",))] == ["k1"]  # kept_as back-filled
    if start >= 7:  # contract_parties back-filled: each party finds the contracts it may read
        assert [r.id for r in store.contracts_of("lab")] == ["p1", "p2", "p3"]  # p3's lists hold a list: no crash
        assert [r.id for r in store.contracts_of("insurer")] == ["p1", "p3"]
        assert store.contracts_of("dave") == []
        # the log back-filled: entries of their contracts to the parties, the others to their readers;
        # the same read in seq order from each contract's back-filled `since` (version 9)
        for many in (10**9, 1):
            store.MANY_CONTRACTS = many
            assert [e.seq for e in store.audit_about("insurer")] == [2, 3]
            assert [e.seq for e in store.audit_about("lab")] == [2, 4]
            assert [e.seq for e in store.audit_about("bank1")] == [1, 2]
            assert store.audit_about("admin", after_seq=2) == [e for e in store.audit_entries() if e.seq == 3]
        del store.MANY_CONTRACTS
        assert dict(store._all("SELECT contract_id, min(since) FROM contract_parties GROUP BY contract_id")) == {
            "c1": 0, "k1": 0, "p1": 1, "p2": 0, "p3": 0}
        assert [r.id for r in store.contracts_of("bank1")] == ["c1", "k1", "p1"]  # not p2: its lists name no one
        assert [r.id for r in store.contracts_of("bank1", status="approved")] == ["k1"]
        assert store.contracts_of("nobody") == []
