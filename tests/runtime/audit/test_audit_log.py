"""The audit chain: appends, and detection of modified, deleted, inserted and reordered entries.

A new store's log starts with the escrow's signed genesis entry (#1): the N entries appended
here are #2 to #N+1."""

import json
import os
import sqlite3

import pytest

from datastation.runtime import keys
from datastation.runtime.audit import GENESIS, AuditLog, entry_hash, verify_log
from datastation.runtime.config import config_from_dict
from datastation.runtime.store import AgentRow, open_store

N = 6


@pytest.fixture
def env(tmp_path):
    config = config_from_dict({"store": {"synchronous": "NORMAL"}}, tmp_path)
    store = open_store(config)
    key = keys.generate_key()
    log = AuditLog(store, key)
    for i in range(1, N + 1):
        log.append("approval", actor=f"agent{i % 2}", contract="c1" if i % 2 else "c2",
                   payload={"i": i, "signature": "sig", "agent": f"agent{i % 2}"}, ts=1000.0 + i)
    yield store, key, config
    store.close()


def db_of(store):
    return sqlite3.connect(store.path, isolation_level=None)


def test_clean_log_verifies(env):
    store, key, _ = env
    result = verify_log(store, key.public_key())
    assert (result.ok, result.count) == (True, N + 1)
    entries = list(store.audit_entries())
    assert [e.seq for e in entries] == list(range(1, N + 2))
    assert entries[0].kind == "genesis" and entries[0].payload == {"escrow_id": keys.escrow_id(keys.public_pem(key))}
    assert entries[0].prev_hash == GENESIS and entries[1].prev_hash == entries[0].hash
    assert [e.seq for e in store.audit_entries(contract="c2")] == [3, 5, 7]
    assert [e.seq for e in store.audit_entries(agent="agent1")] == [2, 4, 6]


def test_empty_log_fails(tmp_path):
    # Nothing proves that an empty log is complete: an escrow's log always holds its genesis entry.
    store = open_store(config_from_dict({}, tmp_path))
    result = verify_log(store, keys.generate_key().public_key())
    assert not result.ok and "genesis" in result.reason
    store.close()


def test_genesis_names_this_escrow(env):
    store, _, _ = env
    result = verify_log(store, keys.generate_key().public_key())  # another escrow's key
    assert not result.ok and result.bad_seq == 1


def test_log_of_an_older_store_without_genesis_fails_clearly(tmp_path):
    # A store whose log began before genesis entries existed (the setting is not pending).
    store = open_store(config_from_dict({}, tmp_path))
    store.set_setting("audit.genesis", None)
    key = keys.generate_key()
    AuditLog(store, key).append("agent_created", actor="a", payload={"agent": "a"})
    result = verify_log(store, key.public_key())
    assert not result.ok and result.bad_seq == 1 and "older than genesis entries" in result.reason
    store.close()


def test_second_genesis_is_refused(env):
    store, key, _ = env
    AuditLog(store, key).append("genesis", payload={"escrow_id": keys.escrow_id(keys.public_pem(key))})
    result = verify_log(store, key.public_key())
    assert not result.ok and result.bad_seq == N + 2


def test_wrong_escrow_key(env):
    store, _, _ = env
    result = verify_log(store, keys.generate_key().public_key())
    assert (result.ok, result.bad_seq) == (False, 1)


def _flip(text: str, at: int) -> str:
    c = text[at]
    return text[:at] + ("0" if c != "0" else "1") + text[at + 1:]


def byte_flip_payload(db):
    (p,) = db.execute("SELECT payload FROM audit WHERE seq = 4").fetchone()
    db.execute("UPDATE audit SET payload = ? WHERE seq = 4", (p.replace('"i":3', '"i":4'),))


def byte_flip_hash(db):
    (h,) = db.execute("SELECT hash FROM audit WHERE seq = 4").fetchone()
    db.execute("UPDATE audit SET hash = ? WHERE seq = 4", (_flip(h, 10),))


def byte_flip_signature(db):
    (s,) = db.execute("SELECT signature FROM audit WHERE seq = 4").fetchone()
    db.execute("UPDATE audit SET signature = ? WHERE seq = 4", (("B" if s[5] != "B" else "C").join([s[:5], s[6:]]),))


def byte_flip_actor(db):
    db.execute("UPDATE audit SET actor = 'agent0' WHERE seq = 4")


def byte_flip_ts(db):
    db.execute("UPDATE audit SET ts = ts + 1 WHERE seq = 4")


def rehash_after_edit(db):
    # Edit and recompute the hash (and chain) without the escrow key: the signature gives it away.
    row = list(db.execute("SELECT seq, ts, kind, actor, contract, payload, prev_hash FROM audit WHERE seq = 4").fetchone())
    row[5] = row[5].replace('"i":3', '"i":99')
    db.execute("UPDATE audit SET payload = ?, hash = ? WHERE seq = 4", (row[5], entry_hash(*row)))


def delete_middle(db):
    db.execute("DELETE FROM audit WHERE seq = 4")


def delete_genesis(db):
    db.execute("DELETE FROM audit WHERE seq = 1")


def delete_first(db):
    db.execute("DELETE FROM audit WHERE seq = 2")


def delete_start(db):
    # Everything up to entry 4 removed, the rest renumbered from 1: the chain no longer starts at genesis.
    db.execute("DELETE FROM audit WHERE seq <= 4")
    db.execute("UPDATE audit SET seq = seq - 4")


def delete_last(db):
    db.execute("DELETE FROM audit WHERE seq = 7")


def insert_forged(db):
    # Make room after entry 3 and insert a forged entry that links to entry 3 correctly.
    for seq in range(N + 1, 3, -1):
        db.execute("UPDATE audit SET seq = seq + 1 WHERE seq = ?", (seq,))
    (prev,) = db.execute("SELECT hash FROM audit WHERE seq = 3").fetchone()
    h = entry_hash(4, 1002.5, "approval", "mallory", "c1", '{"i":0}', prev)
    db.execute("INSERT INTO audit VALUES (4, 1002.5, 'approval', 'mallory', 'c1', '{\"i\":0}', ?, ?, 'AAAA')", (prev, h))


def insert_copy(db):
    # Duplicate a genuine, validly signed entry at the end.
    row = db.execute("SELECT * FROM audit WHERE seq = 3").fetchone()
    db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (N + 2, *row[1:]))


def reorder(db):
    db.execute("UPDATE audit SET seq = -1 WHERE seq = 4")
    db.execute("UPDATE audit SET seq = 4 WHERE seq = 5")
    db.execute("UPDATE audit SET seq = 5 WHERE seq = -1")


def reorder_contents(db):
    # Swap everything but seq between entries 5 and 6.
    cols = "ts, kind, actor, contract, payload, prev_hash, hash, signature"
    a = db.execute(f"SELECT {cols} FROM audit WHERE seq = 5").fetchone()
    b = db.execute(f"SELECT {cols} FROM audit WHERE seq = 6").fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    db.execute(f"UPDATE audit SET {sets} WHERE seq = 5", b)
    db.execute(f"UPDATE audit SET {sets} WHERE seq = 6", a)


def truncate_all(db):
    db.execute("DELETE FROM audit")


def truncate_all_and_head(db):
    db.execute("DELETE FROM audit")
    db.execute("DELETE FROM audit_head")


def head_rewound(db):
    # Delete the tail and point the head at the new last entry (no valid head signature).
    db.execute("DELETE FROM audit WHERE seq = 7")
    (h,) = db.execute("SELECT hash FROM audit WHERE seq = 6").fetchone()
    db.execute("UPDATE audit_head SET seq = 6, hash = ?", (h,))


@pytest.mark.parametrize("tamper, bad_seq", [
    (byte_flip_payload, 4),
    (byte_flip_hash, 4),
    (byte_flip_signature, 4),
    (byte_flip_actor, 4),
    (byte_flip_ts, 4),
    (rehash_after_edit, 4),
    (delete_middle, 5),
    (delete_genesis, 2),
    (delete_first, 3),
    (delete_start, 1),
    (delete_last, 7),
    (insert_forged, 4),
    (insert_copy, 8),
    (reorder, 4),
    (reorder_contents, 5),
    (truncate_all, None),
    (truncate_all_and_head, None),
    (head_rewound, 6),
])
def test_tampering_is_detected(env, tamper, bad_seq):
    store, key, _ = env
    db = db_of(store)
    tamper(db)
    db.close()
    result = verify_log(store, key.public_key())
    assert not result.ok
    assert result.bad_seq == bad_seq, result.describe()
    assert f"#{bad_seq}" in result.describe() if bad_seq else "the log" in result.describe()


def test_append_rolls_back_with_its_transaction(env):
    store, key, _ = env
    log = AuditLog(store, key)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.add_agent(AgentRow(name="z", public_key="P"))
            log.append("agent_created", actor="z")
            raise RuntimeError
    assert store.audit_count() == N + 1 and store.get_agent("z") is None
    assert verify_log(store, key.public_key()).ok
    assert log.append("x").seq == N + 2


def test_cli_verify_and_log(tmp_path, dsc):
    _dsc = lambda _, *a: dsc(*a)
    assert _dsc(tmp_path, "init").returncode == 0
    assert _dsc(tmp_path, "agent", "create", "bank1", "--no-passphrase").returncode == 0
    assert _dsc(tmp_path, "agent", "create", "bank2", "--no-passphrase").returncode == 0
    r = _dsc(tmp_path, "audit", "verify")
    assert r.returncode == 0, r.stderr
    r = _dsc(tmp_path, "log", "--agent", "bank2", "--format", "json")
    assert [e["payload"]["agent"] for e in json.loads(r.stdout)] == ["bank2"]
    db = sqlite3.connect(tmp_path / ".dsc-escrow" / "escrow.db", isolation_level=None)
    db.execute("UPDATE audit SET payload = replace(payload, 'bank1', 'bankX') WHERE seq = 2")
    db.close()
    r = _dsc(tmp_path, "audit", "verify", "--format", "json")
    assert r.returncode == 1
    assert json.loads(r.stdout)["first_bad_seq"] == 2  # the first entry after the genesis
    r = _dsc(tmp_path, "log")  # a tampered log still displays
    assert r.returncode == 0 and "bankX" in r.stdout


def test_concurrent_appenders_keep_one_chain(tmp_path):
    # Two processes append at the same time: BEGIN IMMEDIATE serialises them, the chain stays whole.
    config = config_from_dict({"store": {"synchronous": "NORMAL"}}, tmp_path)
    open_store(config).close()
    key = keys.generate_key()
    pids = []
    for worker in range(2):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                store = open_store(config)
                log = AuditLog(store, key)
                for i in range(15):
                    with store.transaction():
                        store.set_state("w", f"{worker}-{i}", i)
                        log.append("app_state", actor=f"w{worker}", payload={"i": i})
                store.close()
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    assert all(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) == 0 for p in pids)
    store = open_store(config)
    result = verify_log(store, key.public_key())
    assert (result.ok, result.count) == (True, 31)
    store.close()


def test_head_signed_once_per_transaction_survives_inner_rollback(env):
    store, key, _ = env
    log = AuditLog(store, key)
    with store.transaction():
        log.append("a")
        with pytest.raises(RuntimeError):
            with store.transaction():
                log.append("b")  # undone with its savepoint
                raise RuntimeError
        log.append("c")
    assert [e.kind for e in store.audit_entries()][-2:] == ["a", "c"]
    assert verify_log(store, key.public_key()).ok
