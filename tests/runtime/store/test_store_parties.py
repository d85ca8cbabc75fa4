"""What an agent may read, found from an index of each contract's parties (`contract_parties`):
`Store.contracts_of` (the contracts it proposes, contributes to or receives) and
`Store.audit_about` (the log entries of those contracts, and of no contract but by or about it),
on SQLite and on PostgreSQL; neither reads every contract nor every entry. An agent party to many
contracts reads the log in seq order, with the same answer."""

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


def costs_the_same(store, add, reads, few: int, many: int) -> None:
    """Each of `reads()` (SQLite VM steps) costs under 1.5 times as much once `add(n, start)` has
    grown the agent's contracts from `few` to `many`."""
    add(few, 0)
    before = reads()
    add(many - few, few)
    after = reads()
    store.close()
    assert all(m < f * 1.5 for f, m in zip(before, after)), (before, after)


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

    costs_the_same(store, add, reads, 50, 2050)


def _mixed_log(store, log):
    """bank1 party to c1, c2, c10..c14 and 60 contracts of no entry; entries of its contracts, of
    others' and of no contract."""
    for i in range(10, 15):
        store.put_contract(contract(f"c{i}", "lab", ("bank1",), ("lab",), created=float(i)))
    for i in range(100, 160):
        store.put_contract(contract(f"c{i}", "bank1", ("bank1",), ("bank1",), created=float(i)))
    for i in range(30):
        log.append("proposal", actor="lab", contract=f"c{10 + i % 5}")
        log.append("proposal", actor="bank2", contract="c3")
        log.append("data_add", actor="admin", payload={"owner": "bank1" if i % 3 else "bank2"})
        if i % 7 == 0:
            log.append("approval", actor="bank2", contract="c2")


@pytest.mark.parametrize("budget", [10**6, 3, 7, 40])
def test_an_agent_party_to_many_contracts_reads_the_log_in_seq_order_with_the_same_answer(env, contracts, budget):
    store, log = env
    _mixed_log(store, log)
    store.MANY_CONTRACTS = 10**9  # through the index, one contract at a time
    expected = {(after, limit): store.audit_about("bank1", after_seq=after, limit=limit)
                for after in (0, 5, 37, 80, 10**6) for limit in (1, 3, 50, 1000)}
    assert len(expected[(0, 1000)]) > 50
    # in seq order; handing over after `budget` entries, or as many as bank1 has contracts (67)
    store.MANY_CONTRACTS, store.SCAN_BUDGET = 3, budget
    for (after, limit), want in expected.items():
        assert store.audit_about("bank1", after_seq=after, limit=limit) == want, (after, limit)
    assert store.audit_about("bank1", limit=0) == []


def test_an_agent_party_to_many_contracts_sees_no_entry_through_a_party_row_written_by_hand(env, contracts):
    store, log = env
    _mixed_log(store, log)
    store.MANY_CONTRACTS = 3
    with store.transaction():
        for cid, created in (("c3", 3.0), ("c1", 1.0), ("c2", 2.0)):  # c1, c2 written again: refused quietly
            store._write("test", "INSERT INTO contract_parties (agent, created, contract_id, owner) VALUES (?, ?, ?, ?)"
                         " ON CONFLICT DO NOTHING", ("lab", created, cid, 1))
    # lab is party to c1 (no entry) and c10..c14: nothing of c2 or c3 shows
    assert {e.contract for e in store.audit_about("lab")} == {"c10", "c11", "c12", "c13", "c14"}


def test_a_page_of_the_log_costs_the_same_however_many_contracts_the_agent_has(tmp_path):
    # session 11: the entries of an agent party to 100,000 contracts were found one contract at a
    # time and sorted (220 ms a page); counted in SQLite's virtual machine steps
    from datastation.runtime.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "e.db")
    store.MANY_CONTRACTS, store.SCAN_BUDGET = 100, 120  # the agent's contracts are counted up to the budget
    log = AuditLog(store, keys.generate_key())

    def add(n, start):
        with store.transaction():
            for i in range(start, start + n):
                store.put_contract(contract(f"c{i:05d}", "heavy", ("victim",), ("heavy",), created=float(i)))
                log.append("proposal", actor="heavy", contract=f"c{i:05d}")

    def reads():
        return [vm_steps(store, lambda: store.audit_about("victim", limit=10), 10),
                vm_steps(store, lambda: store.audit_about("heavy", after_seq=50, limit=10), 10)]

    costs_the_same(store, add, reads, 150, 2150)


def first_page_steps(path, fill, agent: str, limit: int) -> int:
    """SQLite VM steps of `agent`'s first page (`limit` entries) of the log `fill(store, log)` writes,
    the agent reading it as one party to many contracts (100 here; its contracts counted up to 120)."""
    from datastation.runtime.store.sqlite import SQLiteStore

    store = SQLiteStore(path)
    store.MANY_CONTRACTS, store.SCAN_BUDGET = 100, 120
    log = AuditLog(store, keys.generate_key())
    store.put_contract(contract("other", "a", ("a",), ("a",)))
    with store.transaction():
        fill(store, log)
    try:
        return vm_steps(store, lambda: store.audit_about(agent, limit=limit), limit)
    finally:
        store.close()


def test_a_page_of_the_log_skips_what_comes_before_the_agents_first_contract(tmp_path):
    # the log before the since of the agent's (MANY_CONTRACTS + 1)-th contract (the log's head when
    # it was stored) is read through the index of its first contracts: the entries about others
    # before them are not passed over
    def fill(before: int):
        def write(store, log):
            for _ in range(before):
                log.append("proposal", actor="a", contract="other")
            for i in range(150):
                store.put_contract(contract(f"c{i:05d}", "heavy", ("victim",), ("heavy",), created=float(i)))
                assert store._one("SELECT since FROM contract_parties WHERE contract_id = ? AND agent = 'victim'",
                                  (f"c{i:05d}",))[0] == store.audit_head()[0]
                log.append("proposal", actor="heavy", contract=f"c{i:05d}")
        return write

    few = first_page_steps(tmp_path / "few.db", fill(20), "victim", 10)
    many = first_page_steps(tmp_path / "many.db", fill(2000), "victim", 10)
    assert many < few * 1.5, (few, many)


@pytest.mark.parametrize("limit", [1, 10, 1000])
def test_a_page_of_a_sparse_log_costs_at_most_about_twice_what_the_index_costs(tmp_path, limit):
    # an agent party to many contracts whose entries are few among others': the seq-order read
    # gives up after passing over as many entries as the agent has contracts, or sooner
    from datastation.runtime.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "e.db")
    log = AuditLog(store, keys.generate_key())
    store.put_contract(contract("other", "a", ("a",), ("a",)))
    with store.transaction():
        for i in range(150):
            store.put_contract(contract(f"c{i:05d}", "a5", ("a5",), ("a5",), created=float(i)))
            log.append("proposal", actor="a5", contract=f"c{i:05d}")
            for _ in range(40):
                log.append("proposal", actor="a", contract="other")
    store.MANY_CONTRACTS = 10**9
    index = vm_steps(store, lambda: store.audit_about("a5", limit=limit), min(limit, 150))
    store.MANY_CONTRACTS = 100
    scan = vm_steps(store, lambda: store.audit_about("a5", limit=limit), min(limit, 150))
    store.close()
    assert scan < index * 2.5, (index, scan)


def test_since_is_a_head_the_log_really_had(env):
    # `since` is the head as the storing transaction sees it: not one a failed commit wrote and undid
    store, log = env
    log.append("agent_created", actor="a", payload={"agent": "a"})
    committed = store.audit_head()[0]

    def boom():
        raise RuntimeError("the commit fails after the head is written")

    with pytest.raises(RuntimeError), store.transaction():
        for _ in range(5):
            log.append("app_state", actor="a")
        store.before_commit(boom)
    assert store.audit_head()[0] == committed
    store.put_contract(contract("c9", "a", ("a",), ("a",)))
    since = store._one("SELECT since FROM contract_parties WHERE contract_id = 'c9' AND agent = 'a'")[0]
    assert since == committed and log.append("proposal", actor="a", contract="c9").seq == since + 1
    store.put_contract(contract("c10", "a", ("a",), ("a",)))  # after a commit of this store: its head
    assert store._one("SELECT since FROM contract_parties WHERE contract_id = 'c10'")[0] == committed + 1


def test_since_follows_a_database_restored_under_a_running_store(tmp_path):
    # red team (session 11): a store that remembered the last head it committed gave the contracts
    # it stored after a restore (the log's head back at the backup's) a since above their entries,
    # and an agent party to many contracts missed them; the head is read under the write lock
    import sqlite3

    from datastation.runtime.store.sqlite import SQLiteStore

    path = tmp_path / "e.db"
    store = SQLiteStore(path)
    log = AuditLog(store, keys.generate_key())
    for i in range(3):
        store.put_contract(contract(f"k{i}", "x", ("v",), ("x",), created=float(i)))
        log.append("proposal", actor="x", contract=f"k{i}")
    backup = sqlite3.connect(tmp_path / "backup.db")
    with sqlite3.connect(path) as live:
        live.backup(backup)
    for i in range(3, 8):
        store.put_contract(contract(f"k{i}", "x", ("v",), ("x",), created=float(i)))
        log.append("proposal", actor="x", contract=f"k{i}")
    with sqlite3.connect(path) as live:  # restored while the store runs
        backup.backup(live)
    backup.close()
    store.put_contract(contract("k9", "x", ("v",), ("x",), created=9.0))
    entry = log.append("proposal", actor="x", contract="k9")
    assert store._one("SELECT since FROM contract_parties WHERE contract_id = 'k9' AND agent = 'v'")[0] < entry.seq
    store.MANY_CONTRACTS = 2
    assert [e.contract for e in store.audit_about("v")] == ["k0", "k1", "k2", "k9"]
    store.close()


def test_postgresql_checks_each_entry_of_a_span_through_the_indexes(tmp_path, postgres_url):
    # red team (session 11): as an EXISTS, PostgreSQL planned the check of a span of over ~1,000
    # entries as a hash of the agent's contracts joined with a sequential scan of every contract
    # of the escrow (180-290 ms per span at 400,000 contracts)
    from datastation.runtime.config import config_from_dict

    store = open_store(config_from_dict({"store": {"url": postgres_url}}, tmp_path).with_root(tmp_path / "escrow"))
    log = AuditLog(store, keys.generate_key())
    with store.transaction():
        for i in range(3000):
            who = "heavy" if i % 3 else "other"
            store.put_contract(contract(f"c{i:05d}", who, ("victim",) if who == "heavy" else ("other",), (who,),
                                        created=float(i)))
            log.append("proposal", actor=who, contract=f"c{i:05d}")
    store._write("test", "ANALYZE")
    sql = store._SCAN.replace("?", "%s")
    plan = "\n".join(r[0] for r in store._db.execute("EXPLAIN " + sql, (0, 10**6, "victim", "victim", 1000)))
    assert "Seq Scan on contracts" not in plan and "hashed SubPlan" not in plan, plan
    store.MANY_CONTRACTS = 100
    assert len(store.audit_about("victim")) == 1000 and len(store.audit_about("other", limit=5)) == 5
    store.close()


def test_the_first_page_of_an_agent_with_older_contracts_costs_the_same_however_many_came_after(tmp_path):
    # red team (session 11): an owner with contracts of its own spread over the log, then many
    # proposed over its data: its first page handed over to the index (all of its contracts); the
    # log up to the since of its (MANY_CONTRACTS + 1)-th contract is read through the few before
    def fill(burst: int):
        def write(store, log):
            for i in range(50):
                store.put_contract(contract(f"o{i:05d}", "a5", ("a5",), ("a5",), created=float(i)))
                log.append("proposal", actor="a5", contract=f"o{i:05d}")
                for _ in range(40):
                    log.append("proposal", actor="a", contract="other")
            for i in range(burst):
                store.put_contract(contract(f"c{i:05d}", "heavy", ("a5",), ("heavy",), created=100.0 + i))
                log.append("proposal", actor="heavy", contract=f"c{i:05d}")
        return write

    few = first_page_steps(tmp_path / "few.db", fill(300), "a5", 100)
    many = first_page_steps(tmp_path / "many.db", fill(3000), "a5", 100)
    assert many < few * 1.5, (few, many)
