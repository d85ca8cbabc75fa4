"""What an agent may read, found from an index of each contract's parties (`contract_parties`):
`Store.contracts_of` (the contracts it proposes, contributes to or receives) and
`Store.audit_about` (the log entries of those contracts, and of no contract but by or about it),
on SQLite and on PostgreSQL; neither reads every contract nor every entry."""

import pytest

from datastation.runtime import keys
from datastation.runtime.audit import AuditLog
from datastation.runtime.store import ContractRow, open_store


@pytest.fixture
def env(config):
    store = open_store(config)
    yield store, AuditLog(store, keys.generate_key())
    store.close()


def contract(cid, proposer, sources, recipients, status="pending", created=1.0):
    return ContractRow(id=cid, name=cid, canonical="{}", proposer=proposer, status=status, source_agents=sources,
                       recipients=recipients, inputs=tuple(f"{s}.t" for s in sources), created=created)


@pytest.fixture
def contracts(env):
    store, _ = env
    rows = [contract("c1", "lab", ("bank1",), ("insurer",), created=1.0),
            contract("c2", "bank1", ("bank1", "bank2"), ("bank1",), status="approved", created=2.0),
            contract("c3", "bank2", ("bank2",), ("bank2",), created=3.0)]
    for r in rows:
        store.put_contract(r)
    return rows


def ids(rows):
    return [r.id for r in rows]


def vm_steps(store, read, rows: int) -> int:
    """Steps (of 10 instructions) of SQLite's virtual machine that `read()` takes; it returns `rows` rows."""
    count = [0]

    def tick():
        count[0] += 1
        return 0

    store._db.set_progress_handler(tick, 10)
    try:
        assert len(read()) == rows
    finally:
        store._db.set_progress_handler(None, 0)
    return count[0]


def test_each_party_finds_the_contracts_it_proposes_contributes_to_or_receives(env, contracts):
    store, _ = env
    assert ids(store.contracts_of("lab")) == ["c1"]  # proposer
    assert ids(store.contracts_of("insurer")) == ["c1"]  # recipient
    assert ids(store.contracts_of("bank1")) == ["c1", "c2"]  # source agent; c2 in three roles, listed once
    assert ids(store.contracts_of("bank2")) == ["c2", "c3"]
    assert store.contracts_of("nobody") == [] and store.contracts_of("ban") == []
    assert ids(store.contracts_of("bank1", status="approved")) == ["c2"]
    assert ids(store.contracts_of("bank2", status="pending")) == ["c3"]
    assert store.contracts_of("bank1")[1] == store.get_contract("c2")  # whole rows


def test_a_party_row_written_by_hand_shows_no_contract(env, contracts):
    store, log = env
    before = log.append("proposal", actor="bank2", contract="c3")
    with store.transaction():
        store._write("test", "INSERT INTO contract_parties (agent, created, contract_id, owner) VALUES (?, ?, ?, ?)",
                     ("lab", 3.0, "c3", 1))
        store._write("test", "INSERT INTO audit_readers (agent, seq) VALUES (?, ?)", ("lab", before.seq))
    after = log.append("release", actor="bank2", contract="c3")  # indexed for lab too, through the hand-made row
    assert ids(store.contracts_of("lab")) == ["c1"]  # the row's own lists decide
    assert store.pending_for("lab") == []
    assert store.audit_about("lab") == []  # red team session 10: the log of c3 was shown
    assert [e.seq for e in store.audit_about("bank2")] == [before.seq, after.seq]
    assert [e.seq for e in store.audit_about("bank2", limit=1)] == [before.seq]


def test_the_log_an_agent_may_read(env, contracts):
    store, log = env
    by_kind = {}
    for kind, kw in [
        ("agent_created", {"actor": "bank1", "payload": {"agent": "bank1"}}),   # by it, no contract
        ("agent_created", {"actor": "admin", "payload": {"agent": "lab"}}),     # about another
        ("proposal", {"actor": "lab", "contract": "c1"}),                       # its contract, another's act
        ("proposal", {"actor": "bank2", "contract": "c3"}),                     # not its contract
        ("data_add", {"actor": "admin", "payload": {"owner": "bank1"}}),        # about it as owner
        ("release", {"actor": "admin", "payload": {"recipient": "bank1"}}),     # about it as recipient
        ("app_state", {"actor": "admin", "payload": {"note": "bank1"}}),        # other fields say nothing
        ("refusal", {"actor": "bank1", "contract": "c3"}),                      # its act on another's contract
        ("approval", {"actor": "bank2", "contract": "c2"}),
        ("refusal", {"actor": "admin", "payload": {"agent": 7}}),               # not a name
        ("refusal", {"actor": "admin", "payload": {"key": "x" * 5000 + '"bank1"'}}),  # names it elsewhere
    ]:
        by_kind.setdefault(kind, []).append(log.append(kind, **kw).seq)
    with store.transaction():  # a payload that is not JSON (written by hand) makes no read fail
        store._write("test", "UPDATE audit SET payload = 'not json' WHERE seq = ?", (by_kind["app_state"][0],))

    got = store.audit_about("bank1")
    assert [(e.kind, e.contract) for e in got] == [
        ("agent_created", None), ("proposal", "c1"), ("data_add", None), ("release", None), ("approval", "c2")]
    assert [e.seq for e in got] == sorted(e.seq for e in got)
    assert got[1] == next(store.audit_entries(contract="c1"))  # whole entries

    assert [e.kind for e in store.audit_about("lab")] == ["agent_created", "proposal"]
    assert [(e.kind, e.contract) for e in store.audit_about("bank2")] == [("proposal", "c3"), ("refusal", "c3"),
                                                                          ("approval", "c2")]
    assert store.audit_about("nobody") == []
    assert [e.kind for e in store.audit_about("bank1", limit=2)] == ["agent_created", "proposal"]
    after = got[1].seq
    assert [e.kind for e in store.audit_about("bank1", after_seq=after, limit=2)] == ["data_add", "release"]
    assert store.audit_about("bank1", after_seq=got[-1].seq) == []


def test_reads_of_one_agent_list_no_other_contract_nor_entry(env, contracts):
    store, log = env
    for i in range(40):
        store.put_contract(contract(f"x{i}", "other", ("other",), ("other",), created=10.0 + i))
        log.append("proposal", actor="other", contract=f"x{i}")
        # red team session 10: refusals of no contract, their payloads naming bank1 (a flood of
        # them made every agent's read of the log slower)
        log.append("refusal", actor="other", payload={"key": '"bank1"' * 1000, "reason": "bank1"})
    seen = []
    original = store._all

    def counting(sql, params=()):
        rows = original(sql, params)
        seen.append(len(rows))
        return rows

    store._all = counting
    assert ids(store.contracts_of("bank1")) == ["c1", "c2"]
    assert store.audit_about("bank1") == []
    assert max(seen) <= 2  # rows read: the agent's own, not the 43 contracts nor the 80 entries


def test_a_party_list_edited_into_nested_json_breaks_no_read(env, contracts):
    store, _ = env
    with store.transaction():
        store._write("test", "UPDATE contracts SET recipients = ? WHERE id = 'c1'", ('[["dave"]]',))
    assert ids(store.contracts_of("lab")) == ["c1"] and store.contracts_of("dave") == []
    assert store.get_contract("c1").parties == ["bank1", "lab"]


def test_reading_the_log_costs_the_same_however_many_entries_are_about_others(tmp_path):
    # red team session 10: refused requests of no contract (each an entry) made every agent's
    # read of the log scan them all; counted in SQLite's virtual machine steps
    from datastation.runtime.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "e.db")
    log = AuditLog(store, keys.generate_key())
    store.put_contract(contract("c1", "bank1", ("bank1",), ("bank1",)))
    for i in range(5):
        log.append("proposal", actor="bank1", contract="c1")
        log.append("data_add", actor="admin", payload={"owner": "bank1"})

    def steps() -> int:
        return vm_steps(store, lambda: store.audit_about("bank1"), 10)

    def flood(n):
        with store.transaction():
            for i in range(n):
                log.append("refusal", actor="mallory", payload={"key": '"bank1"' * 50, "agent": "mallory"})

    flood(50)
    few = steps()
    flood(2000)
    many = steps()
    store.close()
    assert many < few * 1.5, (few, many)


def test_contracts_and_pending_contracts_are_read_a_page_at_a_time(env, contracts):
    store, _ = env
    store.put_contract(contract("c4", "bank2", ("bank1",), ("lab",), created=2.0))  # created as c2: id orders
    assert ids(store.contracts_of("bank1")) == ["c1", "c2", "c4"]
    assert ids(store.contracts_of("bank1", limit=2)) == ["c1", "c2"]
    assert ids(store.contracts_of("bank1", after=(2.0, "c2"))) == ["c4"]
    assert ids(store.contracts_of("bank1", after=(1.0, "c1"), limit=1)) == ["c2"]
    assert store.contracts_of("bank1", after=(2.0, "c4")) == []
    assert ids(store.pending_for("bank1")) == ["c1", "c4"]
    assert ids(store.pending_for("bank1", limit=1)) == ["c1"]
    assert ids(store.pending_for("bank1", after=(1.0, "c1"))) == ["c4"]


def test_a_page_of_contracts_costs_the_same_however_many_the_agent_has(tmp_path):
    # red team session 10: a page was sorted out of all of the agent's contracts (proposing
    # 100,000 over another's data needs nobody's consent); counted in SQLite's VM steps
    from datastation.runtime.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "e.db")

    def add(n, start):
        with store.transaction():
            for i in range(start, start + n):
                store.put_contract(contract(f"c{i:05d}", "heavy", ("victim",), ("heavy",), created=float(i)))

    def reads():
        return [vm_steps(store, lambda: store.contracts_of("victim", limit=10), 10),
                vm_steps(store, lambda: store.contracts_of("heavy", status="pending", after=(3.0, "c00003"),
                                                           limit=10), 10),
                vm_steps(store, lambda: store.pending_for("victim", limit=10), 10)]

    add(50, 0)
    few = reads()
    add(2000, 50)
    many = reads()
    store.close()
    assert all(m < f * 1.5 for f, m in zip(few, many)), (few, many)
